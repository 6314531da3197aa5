// Device events (`POST /v1/events`): what the client reports about the versions it downloads,
// installs and launches. A bounded queue kept in one storage record, sent in batches, retried with
// backoff; best effort throughout: nothing here throws at the client, failures go to `warn`.
import type { Clock, HttpClient, HttpResponse, RandomBytes, Timer, UpdraftStorage } from "./adapters.ts";
import { toBase64url, utf8Encode } from "./bytes.ts";
import { httpError } from "./download.ts";
import { UpdraftError } from "./errors.ts";
import { type DeviceEvent, EVENT_TYPES, EVENT_WIRE_LIMITS } from "./event-types.ts";
import { backoffDelay, discard, parseRetryAfter, type RetryPolicy } from "./retry.ts";

export { type DeviceEvent, EVENT_TYPES, type EventType } from "./event-types.ts";

/** Options of the event queue (`ClientOptions.events`). */
export interface EventOptions {
  /** Record and send events. Default true. */
  enabled?: boolean;
  /** Send as soon as this many events are queued (1 to 100). Default 20. */
  flushAt?: number;
  /** Most events kept unsent; past it the oldest are dropped (counted). Default 1,000. */
  maxQueued?: number;
  /** Send queued events this long after the first is queued, even below `flushAt`; 0: only at `flushAt` and on `flushEvents()`. Default 30 s. */
  flushIntervalMs?: number;
}

export const DEFAULT_EVENT_OPTIONS: Readonly<Required<EventOptions>> = {
  enabled: true,
  flushAt: 20,
  maxQueued: 1000,
  flushIntervalMs: 30_000,
};

/** What the service accepts (docs/sdk.md, "Device events"). */
export const EVENT_LIMITS = {
  /** Events per batch. */
  batch: EVENT_WIRE_LIMITS.events,
  /** Bytes of one request body. */
  bodyBytes: EVENT_WIRE_LIMITS.bodyBytes,
  /** The service refuses events older than this (by its clock). */
  maxAgeMs: EVENT_WIRE_LIMITS.maxAgeMs,
  /** … and further ahead than this. */
  maxAheadMs: EVENT_WIRE_LIMITS.maxAheadMs,
  /** Bounds of `maxQueued`. */
  maxQueued: 10_000,
  /** Longest `flushIntervalMs`. */
  maxFlushIntervalMs: 24 * 60 * 60 * 1000,
} as const;

/**
 * Backoff between sends after a 5xx, a network error or an unexpected status: 1 s doubling to 5
 * min, with equal jitter. A Retry-After is honoured as given, up to a day. Events are retried until
 * sent, too old, or pushed out of the queue (`attempts` is not used).
 */
export const EVENT_RETRY: RetryPolicy = {
  attempts: Number.POSITIVE_INFINITY,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  maxRetryAfterMs: 24 * 60 * 60 * 1000,
};

/** The one storage record holding the queue: `{"events": [...oldest first], "dropped": n}`. */
export const EVENTS_RECORD = "events";

/** Statuses after which a batch can never be accepted: it is dropped. */
const REFUSED_STATUSES: ReadonlySet<number> = new Set([400, 413, 415]);

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const ERROR_CODE = /^[A-Z0-9_]{1,64}$/;
// Printable ASCII without quotes, backslashes or spaces (the service's rule for keys and versions).
const TOKEN = /^[!#-[\]-~]+$/;
const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

const token = (value: unknown, max: number): boolean =>
  typeof value === "string" && value.length >= 1 && value.length <= max && TOKEN.test(value);

/** The batch's own fields. */
export interface EventHeader {
  appId: string;
  env: string;
  deviceId: string;
}

/** Why the service would refuse every batch with this header, or null. */
export function eventHeaderProblem(header: EventHeader): string | null {
  if (!token(header.appId, 100)) return "appId is not 1 to 100 characters of visible ASCII";
  if (!token(header.env, 32)) return "env is not 1 to 32 characters of visible ASCII";
  if (!token(header.deviceId, 128)) return "deviceId is not 1 to 128 characters of visible ASCII";
  return null;
}

/** Why the service would refuse this event (and with it its whole batch), or null. Time is checked by {@link isFresh}. */
export function eventProblem(event: DeviceEvent): string | null {
  if (typeof event.id !== "string" || !ID.test(event.id)) return "id";
  if (!TYPES.has(event.type)) return "type";
  if (!token(event.miniProgram, 128)) return "miniProgram";
  if (!token(event.version, 64)) return "version";
  if (!token(event.releaseId, 64)) return "releaseId";
  if (!Number.isSafeInteger(event.at)) return "at";
  if (event.errorCode !== null && (typeof event.errorCode !== "string" || !ERROR_CODE.test(event.errorCode))) {
    return "errorCode";
  }
  return null;
}

/**
 * Whether the service still accepts an event of time `at` at `now`: at most 7 days old, at most a
 * day ahead, each less `marginMs` for the difference between the clocks.
 */
export function isFresh(at: number, now: number, marginMs: number): boolean {
  return at >= now - EVENT_LIMITS.maxAgeMs + marginMs && at <= now + EVENT_LIMITS.maxAheadMs - marginMs;
}

/** An error code as the service takes it: upper case, `[A-Z0-9_]`, at most 64; null when nothing is left. */
export function eventErrorCode(code: string | null | undefined): string | null {
  if (typeof code !== "string") return null;
  const mapped = code
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_")
    .slice(0, 64);
  return mapped === "" ? null : mapped;
}

/** The event with exactly the sent fields, in the sent order. */
const sentFields = (e: DeviceEvent): DeviceEvent => ({
  id: e.id,
  type: e.type,
  miniProgram: e.miniProgram,
  version: e.version,
  releaseId: e.releaseId,
  at: e.at,
  errorCode: e.errorCode,
});

/** The request body of a batch. */
export function batchBody(header: EventHeader, events: readonly DeviceEvent[]): string {
  return JSON.stringify({
    appId: header.appId,
    env: header.env,
    deviceId: header.deviceId,
    events: events.map(sentFields),
  });
}

/**
 * The next batch: the first events of `queue`, at most `EVENT_LIMITS.batch` of them and at most
 * `EVENT_LIMITS.bodyBytes` of body (never fewer than one event when the queue has one).
 */
export function takeBatch(
  queue: readonly DeviceEvent[],
  header: EventHeader,
  maxEvents: number = EVENT_LIMITS.batch,
  maxBytes: number = EVENT_LIMITS.bodyBytes,
): DeviceEvent[] {
  const out: DeviceEvent[] = [];
  let size = utf8Encode(batchBody(header, [])).length;
  for (const event of queue) {
    if (out.length >= maxEvents) break;
    const more = utf8Encode(JSON.stringify(sentFields(event))).length + (out.length > 0 ? 1 : 0);
    if (out.length > 0 && size + more > maxBytes) break;
    out.push(event);
    size += more;
  }
  return out;
}

/** The newest `max` events of `queue`, and how many older ones did not fit. */
export function bounded(queue: readonly DeviceEvent[], max: number): { events: DeviceEvent[]; dropped: number } {
  const dropped = Math.max(0, queue.length - max);
  return { events: queue.slice(dropped), dropped };
}

interface EventRecord {
  events: DeviceEvent[];
  dropped: number;
}

/** The stored queue; anything unreadable is no event (a record that does not parse is an empty queue). */
export function parseEventRecord(text: string | null): EventRecord {
  if (text === null) return { events: [], dropped: 0 };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { events: [], dropped: 0 };
  }
  const v = (typeof value === "object" && value !== null ? value : {}) as { events?: unknown; dropped?: unknown };
  const list = Array.isArray(v.events) ? v.events : [];
  const events: DeviceEvent[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    if (typeof item !== "object" || item === null) continue;
    const e = sentFields(item as DeviceEvent);
    if (eventProblem(e) === null && !seen.has(e.id)) {
      seen.add(e.id);
      events.push(e);
    }
  }
  const dropped = Number.isSafeInteger(v.dropped) && (v.dropped as number) >= 0 ? (v.dropped as number) : 0;
  return { events, dropped };
}

/** What an event says; the queue adds `id` and `at`. */
export type EventInput = Omit<DeviceEvent, "id" | "at">;

/** The queue's state, for the host (`eventStats()`). */
export interface EventStats {
  /** Events waiting to be sent. */
  queued: number;
  /** Events dropped unsent on this device so far (full queue, too old, refused batches). */
  dropped: number;
  /** While backed off after a failed send: when the next try is due (Unix ms); else null. */
  retryAt: number | null;
}

export interface EventQueue {
  /** Queues an event (and stores the queue); false when it is not queued (disabled, or invalid). Never throws. */
  add(input: EventInput): Promise<boolean>;
  /** Sends what is queued now, batch by batch; resolves when all is sent or the queue backed off. Never throws. */
  flush(): Promise<void>;
  stats(): Promise<EventStats>;
}

/** What the queue needs from the client. */
export interface EventQueueContext {
  url: string;
  header: EventHeader;
  options: Readonly<Required<EventOptions>>;
  storage: UpdraftStorage;
  http: HttpClient;
  random: RandomBytes;
  now: Clock;
  jitter: () => number;
  timer: Timer;
  /** Margin for the difference between the local clock and the service's. */
  skewMs: number;
  warn: (error: UpdraftError) => void;
}

/** Options with their defaults, or `INVALID_OPTIONS`. */
export function eventOptions(given: EventOptions | undefined): Readonly<Required<EventOptions>> {
  const d = DEFAULT_EVENT_OPTIONS;
  const o = {
    enabled: given?.enabled ?? d.enabled,
    flushAt: given?.flushAt ?? d.flushAt,
    maxQueued: given?.maxQueued ?? d.maxQueued,
    flushIntervalMs: given?.flushIntervalMs ?? d.flushIntervalMs,
  };
  const integer = (v: unknown, min: number, max: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  if (typeof o.enabled !== "boolean") throw invalid("events.enabled must be a boolean.");
  if (!integer(o.flushAt, 1, EVENT_LIMITS.batch)) {
    throw invalid(`events.flushAt must be an integer from 1 to ${EVENT_LIMITS.batch}.`);
  }
  if (!integer(o.maxQueued, 1, EVENT_LIMITS.maxQueued)) {
    throw invalid(`events.maxQueued must be an integer from 1 to ${EVENT_LIMITS.maxQueued}.`);
  }
  if (!integer(o.flushIntervalMs, 0, EVENT_LIMITS.maxFlushIntervalMs)) {
    throw invalid(`events.flushIntervalMs must be an integer from 0 to ${EVENT_LIMITS.maxFlushIntervalMs}.`);
  }
  return Object.freeze(o);
}

const invalid = (message: string) => new UpdraftError("INVALID_OPTIONS", message);

type SendOutcome = { kind: "accepted" } | { kind: "refused"; error: UpdraftError } | { kind: "retry"; afterMs: number };

/**
 * The event queue of one client. State lives in memory and is written whole to one record after every
 * change (writes take turns, the last one carries the latest state); the record is read once, before
 * the first write, so a record that could not be read is never overwritten. Flushes take turns:
 * a batch leaves the queue only once the service answered it, so events added meanwhile stay, and a
 * crash between the answer and the write only sends the batch again (the service counts ids once).
 */
export function createEventQueue(ctx: EventQueueContext): EventQueue {
  const { options, storage, now } = ctx;
  /** The host's warning callback, which must not break the queue if it throws. */
  const warn = (error: UpdraftError) => {
    try {
      ctx.warn(error);
    } catch {
      // ignored: a warning is only a report
    }
  };
  const headerProblem = eventHeaderProblem(ctx.header);
  let headerWarned = false;

  let events: DeviceEvent[] = [];
  let dropped = 0;
  let loaded = false;
  let loading: Promise<void> | null = null;

  let retryAt: number | null = null;
  let failures = 0;
  let cancelTimer: (() => void) | null = null;
  let timerAt: number | null = null;

  let flushing: Promise<void> | null = null;
  let flushAgain: Promise<void> | null = null;

  const dropWarning = (count: number, why: string, cause?: unknown) =>
    warn(
      new UpdraftError(
        "EVENTS_DROPPED",
        `${count} device event${count === 1 ? "" : "s"} dropped: ${why}.`,
        cause === undefined ? {} : { cause },
      ),
    );

  /** Reads the stored queue once (merged before this session's events); retried at the next change if it fails. */
  function load(): Promise<void> {
    if (loaded) return Promise.resolve();
    loading ??= (async () => {
      try {
        const record = parseEventRecord(await storage.get(EVENTS_RECORD));
        const ours = new Set(events.map((e) => e.id));
        const merged = bounded([...record.events.filter((e) => !ours.has(e.id)), ...events], options.maxQueued);
        events = merged.events;
        dropped += record.dropped + merged.dropped;
        loaded = true;
        if (merged.dropped > 0) dropWarning(merged.dropped, "the queue was full");
      } catch (error) {
        warn(new UpdraftError("STORAGE_ERROR", "The device event queue could not be read.", { cause: error }));
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  let writes: Promise<void> = Promise.resolve();
  let nextWrite: Promise<void> | null = null;
  /** Stores the queue as it is when the write starts; changes made during a write get the next one. */
  function persist(): Promise<void> {
    if (nextWrite !== null) return nextWrite;
    const write = writes.then(async () => {
      nextWrite = null;
      await load();
      if (!loaded) return;
      try {
        await storage.set(EVENTS_RECORD, JSON.stringify({ events: events.map(sentFields), dropped }));
      } catch (error) {
        warn(
          new UpdraftError("STORAGE_ERROR", "The device event queue could not be stored; it is kept in memory.", {
            cause: error,
          }),
        );
      }
    });
    nextWrite = write;
    writes = write.catch(() => undefined);
    return write;
  }

  function arm(ms: number): void {
    const at = now() + ms;
    if (timerAt === at) return;
    cancelTimer?.();
    timerAt = at;
    cancelTimer = ctx.timer(() => {
      cancelTimer = null;
      timerAt = null;
      void flush();
    }, ms);
  }

  function disarm(): void {
    cancelTimer?.();
    cancelTimer = null;
    timerAt = null;
  }

  /** After a change: nothing queued, no timer; backed off, a timer for the retry; else send at flushAt, or arm the interval. */
  function schedule(): void {
    if (events.length === 0) {
      disarm();
      return;
    }
    const t = now();
    if (retryAt !== null && t < retryAt) {
      arm(retryAt - t);
      return;
    }
    if (events.length >= options.flushAt) {
      void flush();
      return;
    }
    if (timerAt === null && options.flushIntervalMs > 0) arm(options.flushIntervalMs);
  }

  async function add(input: EventInput): Promise<boolean> {
    if (!options.enabled) return false;
    try {
      if (headerProblem !== null) {
        if (!headerWarned) dropWarning(1, `the service would refuse every batch (${headerProblem}): none is recorded`);
        headerWarned = true;
        return false;
      }
      const event: DeviceEvent = {
        id: toBase64url(ctx.random(16)),
        type: input.type,
        miniProgram: input.miniProgram,
        version: input.version,
        releaseId: input.releaseId,
        at: now(),
        errorCode: input.errorCode,
      };
      const problem = eventProblem(event);
      if (problem !== null) {
        dropped += 1;
        dropWarning(1, `its ${problem} is not what the service accepts`);
        return false;
      }
      const next = bounded([...events, event], options.maxQueued);
      events = next.events;
      dropped += next.dropped;
      if (next.dropped > 0) dropWarning(next.dropped, "the queue was full");
      await persist();
      schedule();
      return true;
    } catch (error) {
      warn(new UpdraftError("EVENTS_DROPPED", "A device event could not be recorded.", { cause: error }));
      return false;
    }
  }

  async function send(batch: readonly DeviceEvent[]): Promise<SendOutcome> {
    const retry = (retryAfterMs: number | null): SendOutcome => ({
      kind: "retry",
      afterMs:
        retryAfterMs === null
          ? backoffDelay(failures, EVENT_RETRY, ctx.jitter())
          : Math.min(retryAfterMs, EVENT_RETRY.maxRetryAfterMs),
    });
    let res: HttpResponse;
    let retryAfter: number | null;
    try {
      res = await ctx.http.request({
        method: "POST",
        url: ctx.url,
        headers: { "content-type": "application/json", accept: "application/json" },
        body: utf8Encode(batchBody(ctx.header, batch)),
      });
      if (res.status >= 200 && res.status < 300) {
        await discard(res).catch(() => undefined);
        return { kind: "accepted" };
      }
      if (REFUSED_STATUSES.has(res.status)) return { kind: "refused", error: await httpError(res, "The event batch") };
      // 429 and 5xx: after the Retry-After when there is one; any other status (a service without
      // the endpoint answers 404): kept and tried again with backoff.
      retryAfter = res.status === 429 || res.status >= 500 ? parseRetryAfter(res.header("retry-after"), now()) : null;
    } catch {
      return retry(null); // the network, or the adapter: the same batch goes again later
    }
    await discard(res).catch(() => undefined);
    return retry(retryAfter);
  }

  async function flushNow(): Promise<void> {
    await load();
    const start = now();
    if (retryAt !== null && start < retryAt) return;
    const stale = events.filter((e) => !isFresh(e.at, start, ctx.skewMs));
    if (stale.length > 0) {
      events = events.filter((e) => isFresh(e.at, start, ctx.skewMs));
      dropped += stale.length;
      dropWarning(stale.length, "older than the service accepts (7 days), or dated too far ahead");
      await persist();
    }
    // Everything queued now; events added while this runs wait for the next flush.
    const target = new Set(events.map((e) => e.id));
    for (;;) {
      const batch = takeBatch(
        events.filter((e) => target.has(e.id)),
        ctx.header,
      );
      if (batch.length === 0) return;
      const outcome = await send(batch);
      if (outcome.kind === "retry") {
        failures += 1;
        retryAt = now() + outcome.afterMs;
        return;
      }
      failures = 0;
      retryAt = null;
      const sent = new Set(batch.map((e) => e.id));
      for (const id of sent) target.delete(id);
      events = events.filter((e) => !sent.has(e.id));
      if (outcome.kind === "refused") {
        dropped += batch.length;
        dropWarning(batch.length, "the service refused their batch as invalid", outcome.error);
      }
      await persist();
    }
  }

  function flush(): Promise<void> {
    if (!options.enabled || headerProblem !== null) return Promise.resolve();
    if (flushing === null) {
      flushing = (async () => {
        try {
          await flushNow();
        } catch (error) {
          // Not expected (storage and HTTP failures are handled): back off so it cannot spin.
          retryAt = now() + EVENT_RETRY.maxDelayMs;
          warn(new UpdraftError("NETWORK_ERROR", "Sending device events failed.", { cause: error }));
        } finally {
          flushing = null;
          try {
            schedule();
          } catch (error) {
            warn(
              new UpdraftError("NETWORK_ERROR", "The next send of device events could not be scheduled.", {
                cause: error,
              }),
            );
          }
        }
      })();
      return flushing;
    }
    // One flush at a time: a flush asked for during one runs once it is over (and sends what is queued then).
    flushAgain ??= flushing.then(() => {
      flushAgain = null;
      return flush();
    });
    return flushAgain;
  }

  async function stats(): Promise<EventStats> {
    if (options.enabled) await load();
    return { queued: events.length, dropped, retryAt: retryAt !== null && retryAt > now() ? retryAt : null };
  }

  return { add, flush, stats };
}
