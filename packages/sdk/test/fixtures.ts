// Test fixtures: keys (signed with node:crypto, independently of the SDK's @noble verifier), zips,
// and a fake Updraft service behind the SDK's HttpClient interface, which tests can make misbehave.
import { createHash } from "node:crypto";
import { zipSync } from "fflate";
import { publicKeyOf as pub, rawKeyId, signWith } from "../../../test/support/trust.ts";
import type { HttpClient, HttpRequest, HttpResponse, Timer } from "../src/adapters.ts";
import { keysetSigningText, manifestText, type SignedKeyset, statementText } from "../src/canonical.ts";
import { type ClientOptions, createClient } from "../src/client.ts";
import { isUpdraftError, type UpdraftErrorCode } from "../src/errors.ts";
import { memoryStorage } from "../src/memory-storage.ts";

/** 32-byte seeds (base64url) of every key the tests use. */
export const SEEDS = {
  root: seed("root"),
  root2: seed("root2"),
  service: seed("service"),
  service2: seed("service2"),
  publisher: seed("publisher"),
  publisher2: seed("publisher2"),
  stranger: seed("stranger"),
} as const;

function seed(name: string): string {
  return createHash("sha256").update(`updraft-sdk-test-${name}`).digest().toString("base64url");
}

// node:crypto signing (the CLI's key helpers, through the repository's test trust fixture).
export { pub, rawKeyId, signWith };

export const sha256Hex = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");

export const T0 = Date.UTC(2026, 5, 1);

export interface KeySpec {
  keyId: string;
  seed: string;
  notBefore?: number | null;
  notAfter?: number | null;
}

/** A key set payload object. */
export function keysetPayload(version: number, keys: KeySpec[], expiresAt: number | null = null) {
  return {
    type: "updraft-keyset",
    version,
    issuedAt: T0 - 1000,
    expiresAt,
    keys: keys.map((k) => ({
      keyId: k.keyId,
      alg: "Ed25519",
      publicKey: pub(k.seed),
      notBefore: k.notBefore ?? null,
      notAfter: k.notAfter ?? null,
    })),
  };
}

/** A key set signed by `roots`. */
export function signedKeyset(payload: unknown, roots: string[] = [SEEDS.root]): SignedKeyset {
  const text = JSON.stringify(payload);
  return {
    payload: text,
    signatures: roots.map((r) => ({ keyId: rawKeyId(pub(r)), signature: signWith(r, keysetSigningText(text)) })),
  };
}

/** A deterministic zip of text files. */
export function makeZip(files: Record<string, string | Uint8Array>, level: 0 | 6 = 6): Uint8Array {
  const entries: Record<string, [Uint8Array, { mtime: Date; level: 0 | 6 }]> = {};
  for (const [path, data] of Object.entries(files)) {
    entries[path] = [
      typeof data === "string" ? Buffer.from(data, "utf8") : data,
      { mtime: new Date(2020, 0, 1), level },
    ];
  }
  return zipSync(entries);
}

export function manifestOf(files: Record<string, string | Uint8Array>): string {
  return manifestText(
    Object.entries(files).map(([path, data]) => {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      return { path, size: bytes.length, sha256: sha256Hex(bytes) };
    }),
  );
}

/** An HttpResponse whose body comes in chunks of `chunk` bytes; `stopped()` tells whether the reader left early. */
export function response(
  status: number,
  body: Uint8Array | string = new Uint8Array(0),
  headers: Record<string, string> = {},
  chunk = 1024,
): HttpResponse & { stopped(): boolean; served(): number } {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  let stopped = false;
  let served = 0;
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    status,
    header: (name) => lower[name.toLowerCase()] ?? null,
    body: (async function* () {
      let done = false;
      try {
        for (let i = 0; i < bytes.length; i += chunk) {
          const piece = bytes.subarray(i, i + chunk);
          served += piece.length;
          yield piece;
        }
        done = true;
      } finally {
        if (!done) stopped = true;
      }
    })(),
    stopped: () => stopped,
    served: () => served,
  };
}

const ENDLESS_LIMIT = 8 * 1024 * 1024;

/** A body that never ends (an attacker's "endless data"); `stopped()` tells whether the reader hung up. */
export function endlessResponse(status: number, headers: Record<string, string> = {}) {
  let stopped = false;
  let served = 0;
  const res: HttpResponse & { stopped(): boolean; served(): number } = {
    status,
    header: (name) => headers[name.toLowerCase()] ?? null,
    body: (async function* () {
      try {
        for (;;) {
          // Bounded, and letting timers run, so a client that never stops fails instead of hanging.
          if (served >= ENDLESS_LIMIT) throw new Error("the reader never stopped");
          if (served % (64 * 4096) === 0) await new Promise((resolve) => setTimeout(resolve, 0));
          served += 4096;
          yield new Uint8Array(4096).fill(0x41);
        }
      } finally {
        stopped = true;
      }
    })(),
    stopped: () => stopped,
    served: () => served,
  };
  return res;
}

export const BASE = "https://updraft.test";

export interface Offer {
  action: "update" | "rollback";
  version: string;
  sequence: number;
  updateMode?: "sync" | "async" | "default";
  zip: Uint8Array;
  manifest: string;
  signature: string | null;
  publisherKeyId: string | null;
  releaseId: string;
}

type Json = Record<string, unknown>;

/**
 * A fake service: GET /v1/keys, POST /v1/check (answers signed like the real one), GET packages and
 * manifests by sha256 with `Range: bytes=N-`, POST /v1/events (202, every body kept in `events`).
 * Every part can be replaced to misbehave.
 */
export function fakeService(clock: () => number) {
  const blobs = new Map<string, Uint8Array>();
  const offers = new Map<string, Offer>();
  const requests: HttpRequest[] = [];
  const checks: Json[] = [];
  /** Bodies of every POST /v1/events, parsed, whatever the answer. */
  const events: Json[] = [];
  const state = {
    keyset: signedKeyset(keysetPayload(1, [{ keyId: "svc-1", seed: SEEDS.service }])) as SignedKeyset | null,
    signer: { keyId: "svc-1", seed: SEEDS.service },
    keysetVersion: 1 as number | null,
    /** Edits the answer object before it is serialized and signed. */
    editAnswer: null as ((answer: Json, request: Json) => void) | null,
    /** Edits the signed bytes (after signing: the signature no longer matches). */
    editBytes: null as ((bytes: Uint8Array) => Uint8Array) | null,
    /** Replaces the headers of the check answer. */
    editHeaders: null as ((headers: Record<string, string>) => Record<string, string>) | null,
    /** Answers a package/manifest request instead of the store (return undefined to serve normally). */
    onPackage: null as ((req: HttpRequest, bytes: Uint8Array) => HttpResponse | undefined) | null,
    checkStatus: [] as { status: number; headers?: Record<string, string> }[],
    /** Answers of the next POST /v1/events, in turn (then 202); `throw` fails like a network. */
    eventAnswers: [] as ({ status: number; body?: string; headers?: Record<string, string> } | "throw")[],
  };

  function serveBlob(req: HttpRequest, sha: string): HttpResponse {
    const bytes = blobs.get(sha);
    if (bytes === undefined) return response(404, '{"code":"NOT_FOUND"}');
    const hooked = state.onPackage?.(req, bytes);
    if (hooked !== undefined) return hooked;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      if (start >= bytes.length) return response(416, "", { "content-range": `bytes */${bytes.length}` });
      return response(206, bytes.subarray(start), {
        "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        "content-length": String(bytes.length - start),
      });
    }
    return response(200, bytes, { "content-length": String(bytes.length) });
  }

  function answer(request: Json): HttpResponse {
    const asked = request.miniPrograms as { id: string }[];
    const issuedAt = clock();
    const body: Json = {
      issuedAt,
      expiresAt: issuedAt + 300_000,
      nonce: request.nonce ?? null,
      keyId: state.signer.keyId,
      keysetVersion: state.keysetVersion,
      appId: request.appId,
      env: request.env,
      deviceId: request.deviceId,
      results: asked.map(({ id }) => {
        const o = offers.get(id);
        if (o === undefined) return { id, action: "none" };
        const sha = sha256Hex(o.zip);
        const mSha = sha256Hex(o.manifest);
        return {
          id,
          action: o.action,
          version: o.version,
          releaseId: o.releaseId,
          sequence: o.sequence,
          updateMode: o.updateMode ?? "default",
          package: {
            url: `${BASE}/v1/packages/${sha}`,
            sha256: sha,
            size: o.zip.length,
            manifestUrl: `${BASE}/v1/packages/${mSha}`,
            manifestSha256: mSha,
          },
          signature: o.signature,
          publisherKeyId: o.publisherKeyId,
          config: { switches: {} },
        };
      }),
    };
    state.editAnswer?.(body, request);
    const bytes = Buffer.from(JSON.stringify(body), "utf8");
    const signature = signWith(state.signer.seed, bytes);
    const sent = state.editBytes?.(bytes) ?? bytes;
    let headers: Record<string, string> = {
      "content-type": "application/json",
      "updraft-signature": signature,
      "updraft-key-id": state.signer.keyId,
    };
    if (state.editHeaders) headers = state.editHeaders(headers);
    return response(200, sent, headers);
  }

  const http: HttpClient = {
    async request(req) {
      requests.push(req);
      const path = req.url.slice(BASE.length);
      if (req.method === "GET" && path === "/v1/keys") {
        return response(200, JSON.stringify({ keys: [], keyset: state.keyset }));
      }
      if (req.method === "POST" && path === "/v1/check") {
        const forced = state.checkStatus.shift();
        if (forced) return response(forced.status, '{"code":"SERVICE_UNAVAILABLE"}', forced.headers ?? {});
        const request = JSON.parse(Buffer.from(req.body ?? new Uint8Array()).toString("utf8")) as Json;
        checks.push(request);
        return answer(request);
      }
      if (req.method === "POST" && path === "/v1/events") {
        const batch = JSON.parse(Buffer.from(req.body ?? new Uint8Array()).toString("utf8")) as Json;
        events.push(batch);
        const forced = state.eventAnswers.shift();
        if (forced === "throw") throw new TypeError("fetch failed");
        if (forced) return response(forced.status, forced.body ?? "", forced.headers ?? {});
        const n = (batch.events as unknown[]).length;
        return response(202, JSON.stringify({ accepted: n }), { "content-type": "application/json" });
      }
      const pkg = /^\/v1\/packages\/([0-9a-f]{64})$/.exec(path);
      if (req.method === "GET" && pkg) return serveBlob(req, pkg[1] as string);
      return response(404, '{"code":"ROUTE_NOT_FOUND"}');
    },
  };

  /** Offers `version` of `mp` (files zipped, manifest stored, statement signed by `publisherSeed`). */
  function offer(
    mp: string,
    version: string,
    files: Record<string, string | Uint8Array>,
    opts: {
      sequence?: number;
      action?: "update" | "rollback";
      publisherSeed?: string | null;
      updateMode?: Offer["updateMode"];
    } = {},
  ): Offer {
    const zip = makeZip(files);
    const manifest = manifestOf(files);
    blobs.set(sha256Hex(zip), zip);
    blobs.set(sha256Hex(manifest), Buffer.from(manifest, "utf8"));
    const publisherSeed = opts.publisherSeed === undefined ? SEEDS.publisher : opts.publisherSeed;
    const statement = statementText({
      miniProgram: mp,
      version,
      sha256: sha256Hex(zip),
      size: zip.length,
      manifestSha256: sha256Hex(manifest),
    });
    const o: Offer = {
      action: opts.action ?? "update",
      version,
      sequence: opts.sequence ?? 1,
      ...(opts.updateMode === undefined ? {} : { updateMode: opts.updateMode }),
      zip,
      manifest,
      signature: publisherSeed === null ? null : signWith(publisherSeed, statement),
      publisherKeyId: publisherSeed === null ? null : rawKeyId(pub(publisherSeed)),
      releaseId: `rel_${mp}_${version}`,
    };
    offers.set(mp, o);
    return o;
  }

  return { http, state, blobs, offers, requests, checks, events, offer, withdraw: (mp: string) => offers.delete(mp) };
}

export type FakeService = ReturnType<typeof fakeService>;

/** A controllable clock. */
export function manualClock(start = T0) {
  let t = start;
  const clock = () => t;
  clock.advance = (ms: number) => {
    t += ms;
  };
  clock.set = (ms: number) => {
    t = ms;
  };
  return clock;
}

/** A timer the test fires by hand: `pending()` lists what is scheduled, `fire()` runs what is due by `clock`. */
export function manualTimer(clock: () => number) {
  const scheduled: { at: number; ms: number; callback: () => void; cancelled: boolean; fired: boolean }[] = [];
  const timer: Timer = (callback, ms) => {
    const entry = { at: clock() + ms, ms, callback, cancelled: false, fired: false };
    scheduled.push(entry);
    return () => {
      entry.cancelled = true;
    };
  };
  const live = () => scheduled.filter((e) => !e.cancelled && !e.fired);
  return {
    timer,
    /** Delays (ms) of the timers set and neither cancelled nor fired. */
    pending: () => live().map((e) => e.ms),
    /** Every delay ever set, in order. */
    all: () => scheduled.map((e) => e.ms),
    /** Runs the timers due by the clock; returns how many ran. */
    fire() {
      const due = live().filter((e) => e.at <= clock());
      for (const e of due) {
        e.fired = true;
        e.callback();
      }
      return due.length;
    },
  };
}

/** A client on a fake service, with memory storage, no real sleeping, deterministic jitter and a hand-fired timer. */
export function setup(overrides: Partial<ClientOptions> = {}) {
  const clock = manualClock();
  const service = fakeService(clock);
  const storage = memoryStorage();
  const timers = manualTimer(clock);
  const sleeps: number[] = [];
  const options: ClientOptions = {
    baseUrl: BASE,
    appId: "host-app",
    env: "prod",
    deviceId: "device-1",
    rootKeys: [pub(SEEDS.root)],
    publisherKeys: [pub(SEEDS.publisher)],
    storage,
    http: service.http,
    clock,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    jitter: () => 0.5,
    timer: timers.timer,
    ...overrides,
  };
  const client = createClient(options);
  return { client, service, storage, clock, sleeps, timers, options };
}

export const FILES_V1 = { "index.js": "console.log('v1')", "app.json": '{"pages":["index"]}' };
export const FILES_V2 = { "index.js": "console.log('v2')", "app.json": '{"pages":["index","more"]}', "img/a.txt": "A" };

/** The UpdraftError code a promise rejects with, or "resolved" (anything else is rethrown). */
export const codeOf = async (p: Promise<unknown>): Promise<UpdraftErrorCode | "resolved"> => {
  try {
    await p;
    return "resolved";
  } catch (error) {
    if (isUpdraftError(error)) return error.code;
    throw error;
  }
};

/** A deterministic pseudo-random generator (xorshift32), so fixtures are the same on every run. */
export function rng(seed: number) {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}
