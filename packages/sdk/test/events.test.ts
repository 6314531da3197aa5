// Device events: the persistent queue (batches, retry, Retry-After, refused batches, the bound,
// crash safety) and what the client emits from installs and launches, against the fake service.
import { compressUsingDict, createCCtx, freeCCtx, init } from "@bokuweb/zstd-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import type { HttpClient, UpdraftStorage } from "../src/adapters.ts";
import { toBase64url } from "../src/bytes.ts";
import { platformTimer } from "../src/defaults.ts";
import { isUpdraftError, type UpdraftError } from "../src/errors.ts";
import {
  batchBody,
  createEventQueue,
  type DeviceEvent,
  EVENTS_RECORD,
  type EventInput,
  type EventOptions,
  eventErrorCode,
  eventOptions,
  takeBatch,
} from "../src/events.ts";
import { memoryStorage } from "../src/memory-storage.ts";
import { createPatch, PATCH_FORMAT, type PatchFile } from "../src/patch.ts";
import {
  BASE,
  codeOf,
  FILES_V1,
  FILES_V2,
  fakeService,
  makeZip,
  manualClock,
  manualTimer,
  response,
  setup,
  sha256Hex,
  T0,
} from "./fixtures.ts";

const HEADER = { appId: "host-app", env: "prod", deviceId: "device-1" };
const DAY = 24 * 60 * 60 * 1000;

/** The id the queue's deterministic random source gives its `n`-th event (16 bytes of n). */
const idOf = (n: number) => toBase64url(new Uint8Array(16).fill(n));

const launch = (version = "1.0.0", type: EventInput["type"] = "launch_ok"): EventInput => ({
  type,
  miniProgram: "shop",
  version,
  releaseId: `rel_shop_${version}`,
  errorCode: null,
});

/** An event as sent: the `n`-th one queued, at `at`. */
const sent = (n: number, at: number, input: EventInput = launch()): DeviceEvent => ({
  id: idOf(n),
  type: input.type,
  miniProgram: input.miniProgram,
  version: input.version,
  releaseId: input.releaseId,
  at,
  errorCode: input.errorCode,
});

/** A queue on the fake service, with memory storage, a hand-fired timer and ids 0, 1, 2, … */
function queue(
  options: EventOptions = {},
  extra: { storage?: UpdraftStorage; http?: HttpClient; clock?: ReturnType<typeof manualClock> } = {},
) {
  const clock = extra.clock ?? manualClock();
  const service = fakeService(clock);
  const storage = extra.storage ?? memoryStorage();
  const timers = manualTimer(clock);
  const warnings: UpdraftError[] = [];
  let n = 0;
  const q = createEventQueue({
    url: `${BASE}/v1/events`,
    header: HEADER,
    options: eventOptions(options),
    storage,
    http: extra.http ?? service.http,
    random: (length) => new Uint8Array(length).fill(n++),
    now: clock,
    jitter: () => 0.5,
    timer: timers.timer,
    skewMs: 60_000,
    warn: (w) => warnings.push(w),
  });
  const stored = async () => JSON.parse((await storage.get(EVENTS_RECORD)) ?? "null") as unknown;
  return { q, service, storage, clock, timers, warnings, stored };
}

const problem = (code: string) =>
  JSON.stringify({ type: "about:blank", title: code, status: 400, code, errors: [{ pointer: "/events/0/at" }] });

const bodyText = (body: Uint8Array | undefined) => Buffer.from(body ?? new Uint8Array()).toString("utf8");

describe("event queue: batching", () => {
  it("sends nothing below flushAt, then the queued events in one batch, with exactly this body", async () => {
    const t = queue({ flushAt: 3 });
    expect(await t.q.add(launch())).toBe(true);
    t.clock.advance(10);
    await t.q.add(launch("1.0.0", "launch_failed"));
    expect(t.service.events).toEqual([]);
    expect(t.timers.pending()).toEqual([30_000]); // the interval, armed by the first event
    expect(await t.stored()).toEqual({
      events: [sent(0, T0), sent(1, T0 + 10, launch("1.0.0", "launch_failed"))],
      dropped: 0,
    });
    t.clock.advance(10);
    await t.q.add({ ...launch("1.0.0", "install_failed"), errorCode: "HASH_MISMATCH" });
    await t.q.flush();
    expect(t.service.requests).toHaveLength(1);
    const req = t.service.requests[0];
    expect(req?.method).toBe("POST");
    expect(req?.url).toBe("https://updraft.test/v1/events");
    expect(req?.headers).toEqual({ "content-type": "application/json", accept: "application/json" });
    expect(bodyText(req?.body)).toBe(
      '{"appId":"host-app","env":"prod","deviceId":"device-1","events":[' +
        `{"id":"${idOf(0)}","type":"launch_ok","miniProgram":"shop","version":"1.0.0","releaseId":"rel_shop_1.0.0","at":${T0},"errorCode":null},` +
        `{"id":"${idOf(1)}","type":"launch_failed","miniProgram":"shop","version":"1.0.0","releaseId":"rel_shop_1.0.0","at":${T0 + 10},"errorCode":null},` +
        `{"id":"${idOf(2)}","type":"install_failed","miniProgram":"shop","version":"1.0.0","releaseId":"rel_shop_1.0.0","at":${T0 + 20},"errorCode":"HASH_MISMATCH"}]}`,
    );
    expect(await t.q.stats()).toEqual({ queued: 0, dropped: 0, retryAt: null });
    expect(await t.stored()).toEqual({ events: [], dropped: 0 });
    expect(t.timers.pending()).toEqual([]); // nothing queued: no timer
    expect(t.warnings).toEqual([]);
  });

  it("sends below flushAt when the interval timer fires, flushIntervalMs after the first event", async () => {
    const t = queue({ flushIntervalMs: 5_000 });
    await t.q.add(launch());
    t.clock.advance(4_000);
    await t.q.add(launch("1.0.1"));
    expect(t.timers.pending()).toEqual([5_000]); // one timer, not one per event
    t.clock.advance(999);
    expect(t.timers.fire()).toBe(0);
    t.clock.advance(1);
    expect(t.timers.fire()).toBe(1);
    await t.q.flush();
    expect(t.service.events).toEqual([{ ...HEADER, events: [sent(0, T0), sent(1, T0 + 4_000, launch("1.0.1"))] }]);
  });

  it("with flushIntervalMs 0 sends only at flushAt and on flush()", async () => {
    const t = queue({ flushIntervalMs: 0 });
    await t.q.add(launch());
    expect(t.timers.all()).toEqual([]);
    await t.q.flush();
    expect(t.service.events).toEqual([{ ...HEADER, events: [sent(0, T0)] }]);
  });

  it("sends what an earlier run stored, oldest first, in batches of 100, 100 and 50", async () => {
    const storage = memoryStorage();
    const earlier = Array.from({ length: 250 }, (_, i) => ({ ...sent(i, T0 - 1000 + i), id: `old-${i}` }));
    await storage.set(EVENTS_RECORD, JSON.stringify({ events: earlier, dropped: 4 }));
    const t = queue({}, { storage });
    expect(await t.q.stats()).toEqual({ queued: 250, dropped: 4, retryAt: null });
    await t.q.flush();
    expect(t.service.events.map((b) => (b.events as DeviceEvent[]).length)).toEqual([100, 100, 50]);
    expect(t.service.events.flatMap((b) => b.events as DeviceEvent[])).toEqual(earlier);
    expect(await t.stored()).toEqual({ events: [], dropped: 4 });
  });

  it("batches at most 64 KiB of body", () => {
    const long = (i: number): DeviceEvent => ({
      ...sent(i, T0),
      miniProgram: "m".repeat(128),
      version: "v".repeat(64),
      releaseId: "r".repeat(64),
      errorCode: "E".repeat(64),
    });
    const events = Array.from({ length: 150 }, (_, i) => long(i));
    const batch = takeBatch(events, HEADER);
    expect(batch).toHaveLength(100);
    const small = takeBatch(events, HEADER, 100, 2_000);
    expect(Buffer.byteLength(batchBody(HEADER, small))).toBeLessThanOrEqual(2_000);
    expect(Buffer.byteLength(batchBody(HEADER, events.slice(0, small.length + 1)))).toBeGreaterThan(2_000);
    expect(takeBatch(events, HEADER, 100, 10)).toHaveLength(1); // never stuck on one event
  });
});

describe("event queue: retries", () => {
  it("keeps the batch after a 503 and sends the same ids again after the backoff, never while backed off", async () => {
    const t = queue({ flushAt: 2 });
    t.service.state.eventAnswers.push({ status: 503, body: '{"code":"SERVICE_UNAVAILABLE"}' });
    await t.q.add(launch());
    await t.q.add(launch("1.0.1"));
    await t.q.flush();
    expect(t.service.events).toHaveLength(1);
    // Backoff 1 s with equal jitter (0.5): 750 ms.
    expect(await t.q.stats()).toEqual({ queued: 2, dropped: 0, retryAt: T0 + 750 });
    expect(t.timers.pending()).toEqual([750]);
    await t.q.add(launch("1.0.2")); // at flushAt, but backed off
    await t.q.flush();
    t.clock.advance(749);
    expect(t.timers.fire()).toBe(0);
    await t.q.flush();
    expect(t.service.events).toHaveLength(1);
    t.clock.advance(1);
    expect(t.timers.fire()).toBe(1);
    await t.q.flush();
    const [first, second] = t.service.events;
    expect(first).toEqual({ ...HEADER, events: [sent(0, T0), sent(1, T0, launch("1.0.1"))] });
    // The same events, same ids (the service counts each once), then the one queued meanwhile.
    expect(second).toEqual({
      ...HEADER,
      events: [sent(0, T0), sent(1, T0, launch("1.0.1")), sent(2, T0, launch("1.0.2"))],
    });
    expect(await t.q.stats()).toEqual({ queued: 0, dropped: 0, retryAt: null });
    expect(t.warnings).toEqual([]);
  });

  it("backs off exponentially after network errors, 5xx and unexpected statuses, and starts over after a success", async () => {
    const t = queue({ flushAt: 1 });
    t.service.state.eventAnswers.push("throw", { status: 500 }, { status: 404, body: '{"code":"ROUTE_NOT_FOUND"}' });
    await t.q.add(launch());
    await t.q.flush();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { retryAt } = await t.q.stats();
      if (retryAt === null) break;
      delays.push(retryAt - t.clock());
      t.clock.set(retryAt);
      t.timers.fire();
      await t.q.flush();
    }
    expect(delays).toEqual([750, 1_500, 3_000]);
    expect(t.service.events.map((b) => (b.events as DeviceEvent[])[0]?.id)).toEqual([
      idOf(0),
      idOf(0),
      idOf(0),
      idOf(0),
    ]);
    expect(await t.q.stats()).toMatchObject({ queued: 0, retryAt: null });
    t.service.state.eventAnswers.push({ status: 502 });
    await t.q.add(launch());
    await t.q.flush();
    expect((await t.q.stats()).retryAt).toBe(t.clock() + 750);
  });

  it("waits exactly a 429's Retry-After before sending again", async () => {
    const t = queue({ flushAt: 1 });
    t.service.state.eventAnswers.push({ status: 429, body: problem("RATE_LIMITED"), headers: { "Retry-After": "7" } });
    await t.q.add(launch());
    await t.q.flush();
    expect(t.timers.pending()).toEqual([7_000]);
    expect((await t.q.stats()).retryAt).toBe(T0 + 7_000);
    t.clock.advance(6_999);
    t.timers.fire();
    await t.q.flush();
    expect(t.service.events).toHaveLength(1);
    t.clock.advance(1);
    expect(t.timers.fire()).toBe(1);
    await t.q.flush();
    expect(t.service.events).toEqual([
      { ...HEADER, events: [sent(0, T0)] },
      { ...HEADER, events: [sent(0, T0)] },
    ]);
    expect((await t.q.stats()).queued).toBe(0);
  });

  it("drops a batch refused as invalid (400, 413, 415) with a warning, and sends the next", async () => {
    for (const status of [400, 413, 415]) {
      const t = queue({ flushAt: 100 });
      t.service.state.eventAnswers.push({
        status,
        body: problem("VALIDATION_FAILED"),
        headers: { "content-type": "application/problem+json" },
      });
      await t.q.add(launch());
      await t.q.add(launch("1.0.1"));
      await t.q.flush();
      expect(await t.q.stats(), String(status)).toEqual({ queued: 0, dropped: 2, retryAt: null });
      expect(t.warnings.map((w) => w.code)).toEqual(["EVENTS_DROPPED"]);
      const cause = t.warnings[0]?.cause;
      expect(isUpdraftError(cause, "HTTP_ERROR") && [cause.status, cause.problemCode]).toEqual([
        status,
        "VALIDATION_FAILED",
      ]);
      await t.q.add(launch("1.0.2"));
      await t.q.flush();
      expect(t.service.events[1], String(status)).toEqual({ ...HEADER, events: [sent(2, T0, launch("1.0.2"))] });
      expect(await t.stored()).toEqual({ events: [], dropped: 2 });
    }
  });
});

describe("event queue: bound, concurrency, crashes", () => {
  it("keeps at most maxQueued events, dropping the oldest and counting them", async () => {
    const t = queue({ maxQueued: 5, flushAt: 100 });
    for (let i = 0; i < 8; i++) await t.q.add(launch(`1.0.${i}`));
    expect(await t.q.stats()).toEqual({ queued: 5, dropped: 3, retryAt: null });
    expect(t.warnings.map((w) => [w.code, w.message])).toEqual(
      Array(3).fill(["EVENTS_DROPPED", "1 device event dropped: the queue was full."]),
    );
    await t.q.flush();
    expect(t.service.events).toEqual([
      { ...HEADER, events: [3, 4, 5, 6, 7].map((i) => sent(i, T0, launch(`1.0.${i}`))) },
    ]);
    expect(await t.stored()).toEqual({ events: [], dropped: 3 });
  });

  it("runs one flush at a time, and keeps events added while a batch is in flight", async () => {
    const clock = manualClock();
    const inner = fakeService(clock);
    let inFlight = 0;
    let most = 0;
    let release: () => void = () => undefined;
    let gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const http: HttpClient = {
      async request(req) {
        inFlight++;
        most = Math.max(most, inFlight);
        await gate;
        inFlight--;
        return inner.http.request(req);
      },
    };
    const t = queue({ flushAt: 1 }, { http, clock });
    await t.q.add(launch()); // starts a flush, which waits at the gate
    const during = [t.q.add(launch("1.0.1")), t.q.flush(), t.q.add(launch("1.0.2")), t.q.flush()];
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(inFlight).toBe(1);
    const open = gate;
    gate = Promise.resolve();
    release();
    await open;
    await Promise.all(during);
    await t.q.flush();
    expect(most).toBe(1);
    const batches = inner.events.map((b) => (b.events as DeviceEvent[]).map((e) => e.id));
    expect(batches[0]).toEqual([idOf(0)]);
    // Every event sent exactly once, in order.
    expect(batches.flat()).toEqual([idOf(0), idOf(1), idOf(2)]);
    expect(await t.q.stats()).toMatchObject({ queued: 0 });
  });

  it("sends a batch again, with the same ids, when the write after its 202 never happened (a crash)", async () => {
    const records = memoryStorage();
    let crashed = false;
    const storage: UpdraftStorage = {
      ...records,
      set: async (key, value) => {
        if (crashed) throw new Error("process killed");
        return records.set(key, value);
      },
    };
    const a = queue({ flushAt: 100 }, { storage });
    await a.q.add(launch());
    await a.q.add(launch("1.0.1"));
    crashed = true; // the service answers 202; the queue's write after it never lands
    await a.q.flush();
    expect(a.warnings.map((w) => w.code)).toEqual(["STORAGE_ERROR"]);
    crashed = false;
    const b = queue({}, { storage: records }); // the next launch, on what was stored
    expect(await b.q.stats()).toMatchObject({ queued: 2 });
    await b.q.flush();
    expect(b.service.events).toEqual(a.service.events);
    expect(b.service.events[0]).toEqual({ ...HEADER, events: [sent(0, T0), sent(1, T0, launch("1.0.1"))] });
    expect(await b.q.stats()).toMatchObject({ queued: 0 });
  });

  it("drops events the service would refuse as too old, or dated too far ahead, before sending", async () => {
    const t = queue({ flushAt: 100 });
    await t.q.add(launch());
    t.clock.advance(3 * DAY);
    await t.q.add(launch("1.0.1"));
    t.clock.advance(4 * DAY - 60_000 + 1); // the first is now older than 7 days less the skew margin
    await t.q.flush();
    expect(t.service.events).toEqual([{ ...HEADER, events: [sent(1, T0 + 3 * DAY, launch("1.0.1"))] }]);
    expect(await t.q.stats()).toEqual({ queued: 0, dropped: 1, retryAt: null });
    expect(t.warnings.map((w) => w.code)).toEqual(["EVENTS_DROPPED"]);
    // A clock that ran days ahead and was put back: those events would refuse their whole batch.
    await t.q.add(launch("1.0.2"));
    t.clock.advance(-2 * DAY);
    await t.q.add(launch("1.0.3"));
    await t.q.flush();
    expect(t.service.events.at(-1)).toEqual({
      ...HEADER,
      events: [sent(3, T0 + 5 * DAY - 60_000 + 1, launch("1.0.3"))],
    });
  });

  it("works from memory when storage fails, and never throws", async () => {
    const broken: UpdraftStorage = {
      ...memoryStorage(),
      get: async () => {
        throw new Error("disk gone");
      },
      set: async () => {
        throw new Error("disk gone");
      },
    };
    const t = queue({ flushAt: 100 }, { storage: broken });
    expect(await t.q.add(launch())).toBe(true);
    await t.q.flush();
    expect(t.service.events).toEqual([{ ...HEADER, events: [sent(0, T0)] }]);
    expect(new Set(t.warnings.map((w) => w.code))).toEqual(new Set(["STORAGE_ERROR"]));
  });

  it("never overwrites a stored queue it could not read, and merges it once it can", async () => {
    const records = memoryStorage();
    await records.set(EVENTS_RECORD, JSON.stringify({ events: [{ ...sent(0, T0), id: "stored-1" }], dropped: 0 }));
    let readable = false;
    const storage: UpdraftStorage = {
      ...records,
      get: async (key) => {
        if (!readable) throw new Error("busy");
        return records.get(key);
      },
    };
    const t = queue({ flushAt: 100 }, { storage });
    await t.q.add(launch("1.0.1"));
    expect(JSON.parse((await records.get(EVENTS_RECORD)) ?? "").events.map((e: DeviceEvent) => e.id)).toEqual([
      "stored-1",
    ]);
    readable = true;
    await t.q.add(launch("1.0.2"));
    expect(JSON.parse((await records.get(EVENTS_RECORD)) ?? "").events.map((e: DeviceEvent) => e.id)).toEqual([
      "stored-1",
      idOf(0),
      idOf(1),
    ]);
  });

  it("refuses to record an event the service could never accept, so it cannot block a batch", async () => {
    const t = queue({ flushAt: 1 });
    expect(await t.q.add({ ...launch(), miniProgram: "café" })).toBe(false);
    expect(await t.q.add({ ...launch(), errorCode: "lower" })).toBe(false);
    expect(t.warnings.map((w) => w.code)).toEqual(["EVENTS_DROPPED", "EVENTS_DROPPED"]);
    expect(await t.q.stats()).toEqual({ queued: 0, dropped: 2, retryAt: null });
    expect(t.service.events).toEqual([]);
  });
});

describe("event options and helpers", () => {
  it("maps error codes to [A-Z0-9_]{1,64}", () => {
    expect(eventErrorCode("HASH_MISMATCH")).toBe("HASH_MISMATCH");
    expect(eventErrorCode("js crash: TypeError")).toBe("JS_CRASH__TYPEERROR");
    expect(eventErrorCode("x".repeat(80))).toBe("X".repeat(64));
    expect(eventErrorCode("")).toBeNull();
    expect(eventErrorCode(undefined)).toBeNull();
  });

  it("createClient refuses unusable event options", async () => {
    const bad: EventOptions[] = [
      { flushAt: 0 },
      { flushAt: 101 },
      { flushAt: 1.5 },
      { maxQueued: 0 },
      { maxQueued: 10_001 },
      { flushIntervalMs: -1 },
      { enabled: "yes" as unknown as boolean },
    ];
    for (const events of bad) {
      expect(await codeOf(Promise.resolve().then(() => setup({ events }))), JSON.stringify(events)).toBe(
        "INVALID_OPTIONS",
      );
    }
  });

  it("the platform timer calls back once, unless cancelled", async () => {
    const calls: string[] = [];
    platformTimer(() => calls.push("a"), 1);
    const cancel = platformTimer(() => calls.push("b"), 1);
    cancel();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toEqual(["a"]);
  });
});

// ---- what the client emits ---------------------------------------------------------------------

const ID = expect.stringMatching(/^[A-Za-z0-9_-]{22}$/);
const event = (type: string, version: string, at: number, errorCode: string | null = null, mp = "shop") => ({
  id: ID,
  type,
  miniProgram: mp,
  version,
  releaseId: `rel_${mp}_${version}`,
  at,
  errorCode,
});
const sentEvents = (t: ReturnType<typeof setup>) => t.service.events.flatMap((b) => b.events as DeviceEvent[]);

let cctx = 0;
beforeAll(async () => {
  await init();
  cctx = createCCtx();
  return () => freeCCtx(cctx);
});

describe("client events", () => {
  it("a real install queues download_ok then install_ok; flushEvents sends them, once", async () => {
    const t = setup();
    t.service.offer("shop", "1.0.0", FILES_V1, { sequence: 5 });
    await t.client.update("shop");
    expect(t.service.events).toEqual([]); // below flushAt
    expect(await t.client.eventStats()).toEqual({ queued: 2, dropped: 0, retryAt: null });
    await t.client.flushEvents();
    expect(t.service.events).toEqual([
      {
        appId: "host-app",
        env: "prod",
        deviceId: "device-1",
        events: [event("download_ok", "1.0.0", T0), event("install_ok", "1.0.0", T0)],
      },
    ]);
    const ids = sentEvents(t).map((e) => e.id);
    expect(new Set(ids).size).toBe(2);
    await t.client.flushEvents();
    expect(t.service.events).toHaveLength(1);
    expect(await t.storage.get("events")).toBe('{"events":[],"dropped":0}');
  });

  it("an attempt that fails before its bytes are in queues download_failed with the code (a refusal before any transfer too)", async () => {
    const t = setup();
    t.service.offer("shop", "1.0.0", FILES_V1, { sequence: 5 });
    await t.client.update("shop");
    // Unsigned: refused before any download.
    t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: null });
    expect(await codeOf(t.client.update("shop"))).toBe("PUBLISHER_SIGNATURE_MISSING");
    // Other bytes than signed: the download fails.
    const offer = t.service.offer("shop", "2.0.1", FILES_V2);
    t.service.state.onPackage = (req, bytes) => {
      if (!req.url.endsWith(sha256Hex(offer.zip))) return undefined;
      const flipped = Uint8Array.from(bytes);
      flipped[10] = (flipped[10] as number) ^ 0xff;
      return response(200, flipped);
    };
    expect(await codeOf(t.client.update("shop"))).toBe("HASH_MISMATCH");
    // The package is gone (404): the download fails after no retry.
    const gone = t.service.offer("shop", "2.0.2", FILES_V2);
    t.service.state.onPackage = (req) =>
      req.url.endsWith(sha256Hex(gone.zip)) ? response(404, '{"code":"NOT_FOUND"}') : undefined;
    expect(await codeOf(t.client.update("shop"))).toBe("HTTP_ERROR");
    await t.client.flushEvents();
    expect(sentEvents(t)).toEqual([
      event("download_ok", "1.0.0", T0),
      event("install_ok", "1.0.0", T0),
      event("download_failed", "2.0.0", T0, "PUBLISHER_SIGNATURE_MISSING"),
      event("download_failed", "2.0.1", T0, "HASH_MISMATCH"),
      event("download_failed", "2.0.2", T0, "HTTP_ERROR"),
    ]);
    expect(await t.client.installed("shop")).toMatchObject({ version: "1.0.0" });
  });

  it("a failed install queues download_ok, then install_failed with the code (files that do not match the manifest)", async () => {
    const t = setup({ allowUnsigned: true });
    const good = t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: null });
    const zip = makeZip({ ...FILES_V2, "evil.js": "steal()" });
    t.service.blobs.set(sha256Hex(zip), zip);
    t.service.offers.set("shop", { ...good, zip });
    expect(await codeOf(t.client.update("shop"))).toBe("MANIFEST_MISMATCH");
    await t.client.flushEvents();
    expect(sentEvents(t)).toEqual([
      event("download_ok", "2.0.0", T0),
      event("install_failed", "2.0.0", T0, "MANIFEST_MISMATCH"),
    ]);
  });

  it("an install by patch queues one download_ok, also when a broken patch falls back to the package", async () => {
    for (const broken of [false, true]) {
      const warnings: UpdraftError[] = [];
      const t = setup({ onWarning: (w) => warnings.push(w) });
      const v1 = t.service.offer("shop", "1.0.0", FILES_V1);
      await t.client.update("shop");
      const v2 = t.service.offer("shop", "2.0.0", FILES_V2);
      const files = (f: Record<string, string>): PatchFile[] =>
        Object.entries(f)
          .map(([path, content]) => ({ path, bytes: Buffer.from(content) }))
          .sort((a, b) => (a.path < b.path ? -1 : 1));
      let patch = await createPatch(files(FILES_V1), files(FILES_V2), (data, dict) =>
        compressUsingDict(cctx, data, dict, 3),
      );
      if (broken) patch = new Uint8Array(patch.length).fill(7); // served as signed, but no patch
      t.service.blobs.set(sha256Hex(patch), patch);
      t.service.state.editAnswer = (a) => {
        const r = (a.results as Record<string, unknown>[])[0];
        if (r) {
          r.patch = {
            url: `${BASE}/v1/packages/${sha256Hex(patch)}`,
            sha256: sha256Hex(patch),
            size: patch.length,
            baseSha256: sha256Hex(v1.zip),
            format: PATCH_FORMAT,
          };
        }
      };
      const outcome = await t.client.update("shop");
      expect(outcome.installed?.via, String(broken)).toBe(broken ? "package" : "patch");
      expect(warnings.map((w) => w.code)).toEqual(broken ? ["PATCH_FAILED"] : []);
      expect(t.service.requests.some((r) => r.url.endsWith(sha256Hex(v2.zip)))).toBe(broken);
      await t.client.flushEvents();
      expect(sentEvents(t)).toEqual([
        event("download_ok", "1.0.0", T0),
        event("install_ok", "1.0.0", T0),
        event("download_ok", "2.0.0", T0),
        event("install_ok", "2.0.0", T0),
      ]);
    }
  });

  it("a rollback queues install_ok and rolled_back for the rollback release", async () => {
    const t = setup();
    t.service.offer("shop", "2.0.0", FILES_V2, { sequence: 5 });
    await t.client.update("shop");
    t.clock.advance(1_000);
    t.service.offer("shop", "1.0.0", FILES_V1, { sequence: 6, action: "rollback" });
    expect((await t.client.update("shop")).action).toBe("rollback");
    await t.client.flushEvents();
    expect(sentEvents(t)).toEqual([
      event("download_ok", "2.0.0", T0),
      event("install_ok", "2.0.0", T0),
      event("download_ok", "1.0.0", T0 + 1_000),
      event("install_ok", "1.0.0", T0 + 1_000),
      event("rolled_back", "1.0.0", T0 + 1_000),
    ]);
  });

  it("reportLaunch queues launch_ok / launch_failed for the installed version, nothing for a bundled one", async () => {
    const t = setup({ bundled: { coupons: { version: "3.0.0" } } });
    expect(await t.client.reportLaunch("shop", { ok: true })).toBe(false); // nothing installed
    expect(await t.client.reportLaunch("coupons", { ok: false })).toBe(false); // bundled: no releaseId
    t.service.offer("shop", "1.0.0", FILES_V1);
    await t.client.update("shop");
    t.clock.advance(5);
    expect(await t.client.reportLaunch("shop", { ok: true, errorCode: "IGNORED" })).toBe(true);
    expect(await t.client.reportLaunch("shop", { ok: false, errorCode: "js crash: TypeError" })).toBe(true);
    expect(await t.client.reportLaunch("shop", { ok: false })).toBe(true);
    await t.client.flushEvents();
    expect(sentEvents(t).slice(2)).toEqual([
      event("launch_ok", "1.0.0", T0 + 5),
      event("launch_failed", "1.0.0", T0 + 5, "JS_CRASH__TYPEERROR"),
      event("launch_failed", "1.0.0", T0 + 5),
    ]);
    // A launch report records no failed version.
    expect(await t.client.failedVersions("shop")).toEqual([]);
  });

  it("reportLaunch reads installed records written before events (no releaseId) without failing", async () => {
    const t = setup();
    await t.storage.set(
      "installed/shop",
      JSON.stringify({ id: "shop", version: "1.0.0", sequence: 1, sha256: null, fileSet: null, bundled: false }),
    );
    expect(await t.client.installed("shop")).toMatchObject({ version: "1.0.0" });
    expect(await t.client.reportLaunch("shop", { ok: true })).toBe(false);
  });

  it("sends on its own at flushAt, and on the timer below it", async () => {
    const t = setup({ events: { flushAt: 4, flushIntervalMs: 10_000 } });
    t.service.offer("shop", "1.0.0", FILES_V1);
    await t.client.update("shop");
    expect(t.timers.pending()).toEqual([10_000]);
    await t.client.reportLaunch("shop", { ok: true });
    await t.client.reportLaunch("shop", { ok: true }); // the 4th: sent without flushEvents()
    await t.client.flushEvents();
    expect(t.service.events.map((b) => (b.events as DeviceEvent[]).length)).toEqual([4]);
    await t.client.reportLaunch("shop", { ok: true });
    t.clock.advance(10_000);
    expect(t.timers.fire()).toBe(1);
    await t.client.flushEvents();
    expect(t.service.events.map((b) => (b.events as DeviceEvent[]).length)).toEqual([4, 1]);
  });

  it("with events disabled, queues, stores and sends nothing", async () => {
    const t = setup({ events: { enabled: false } });
    t.service.offer("shop", "1.0.0", FILES_V1);
    await t.client.update("shop");
    expect(await t.client.reportLaunch("shop", { ok: true })).toBe(false);
    await t.client.flushEvents();
    expect(await t.client.eventStats()).toEqual({ queued: 0, dropped: 0, retryAt: null });
    expect(t.service.events).toEqual([]);
    expect(t.service.requests.some((r) => r.url.endsWith("/v1/events"))).toBe(false);
    expect(await t.storage.get("events")).toBeNull();
    expect(t.timers.all()).toEqual([]);
  });

  it("never fails an install: a queue that cannot be stored or sent only warns", async () => {
    const warnings: UpdraftError[] = [];
    const records = memoryStorage();
    const t = setup({
      storage: {
        ...records,
        get: async (key) => {
          if (key === "events") throw new Error("unreadable");
          return records.get(key);
        },
        set: async (key, value) => {
          if (key === "events") throw new Error("disk full");
          return records.set(key, value);
        },
      },
      onWarning: (w) => warnings.push(w),
    });
    t.service.state.eventAnswers.push("throw");
    t.service.offer("shop", "1.0.0", FILES_V1);
    expect((await t.client.update("shop")).installed).toMatchObject({ version: "1.0.0" });
    expect(await t.client.reportLaunch("shop", { ok: true })).toBe(true);
    await t.client.flushEvents(); // the network fails: kept, backed off
    expect(await t.client.installed("shop")).toMatchObject({ version: "1.0.0" });
    expect(new Set(warnings.map((w) => w.code))).toEqual(new Set(["STORAGE_ERROR"]));
    expect(await t.client.eventStats()).toMatchObject({ queued: 3, retryAt: T0 + 750 });
  });

  it("records no event, warning once, for a device whose batches the service would always refuse", async () => {
    const warnings: UpdraftError[] = [];
    const t = setup({ deviceId: "device with spaces", onWarning: (w) => warnings.push(w) });
    t.service.offer("shop", "1.0.0", FILES_V1);
    await t.client.update("shop");
    await t.client.flushEvents();
    expect(t.service.events).toEqual([]);
    expect(warnings.map((w) => w.code)).toEqual(["EVENTS_DROPPED"]);
  });
});
