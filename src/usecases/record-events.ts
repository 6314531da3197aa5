// POST /v1/events (docs/statistics.md): a device's batch of events, validated strictly, limited per
// device, hashed (no device id or event id leaves this function in the clear) and handed to the
// isolate's buffer. No relational write and no Durable Object call on the request path: the buffer is
// flushed to the stats Queue, whose consumer counts each release's events in its monitor.
import { AppError } from "../domain/errors";
import { parseEventBatch } from "../domain/stats/event-batch";
import type { TokenBuckets } from "../domain/stats/token-bucket";
import type { EventRecord } from "./stats-ports";

/** Keyed hashes of ids (under the statistics key, not the bucketing key). */
export interface StatsHashes {
  device(deviceId: string): string;
  user(userId: string): string;
  event(deviceId: string, eventId: string): string;
}

/** Where accepted events go: the isolate's buffer (edge/stats-recorder.ts). */
export interface EventSink {
  hasRoom(records: number): boolean;
  add(releaseId: string, appKey: string, env: string, miniProgram: string, events: EventRecord[]): Promise<void> | null;
}

export interface EventsPorts {
  /** Null when statistics are turned off (STATS = "off"). */
  sink: EventSink | null;
  /** Null without a statistics key (no STATS_KEY and no SIGNING_KEY_SEED to derive one from). */
  hashes: StatsHashes | null;
  /** Per-device limit, in events (isolate-local token buckets keyed by device hash). */
  limiter: TokenBuckets;
}

/** Seconds a device is told to wait while the buffer is full (the Queue is failing). */
const FULL_RETRY_SECONDS = 30;

/**
 * Accepts a parsed batch: VALIDATION_FAILED (with pointers) for a bad one, RATE_LIMITED with
 * Retry-After for a device over its limit. Events of unknown releases are accepted here and dropped
 * by the consumer, so a device learns nothing about which releases exist. Returns how many events
 * were taken (duplicates within the batch counted once) and the flush to keep alive.
 */
export function recordEvents(
  ports: EventsPorts,
  body: unknown,
  now: number,
): { accepted: number; flush: Promise<void>[] } {
  const parsed = parseEventBatch(body, now);
  if ("problems" in parsed) throw new AppError("VALIDATION_FAILED", "The event batch is not valid.", parsed.problems);
  const { sink, hashes } = ports;
  if (sink === null || hashes === null) {
    const why = sink === null ? "Statistics are turned off" : "No statistics key is configured";
    throw new AppError("SERVICE_MISCONFIGURED", `${why} on this deployment: events cannot be recorded.`);
  }
  const { appId, env, deviceId, events } = parsed.batch;
  const device = hashes.device(deviceId);
  if (!ports.limiter.take(device, now, events.length)) {
    const wait = Math.max(1, Math.ceil(ports.limiter.retryAfter(device, now, events.length) / 1000));
    throw new AppError("RATE_LIMITED", "This device sent more events than it may; wait and retry.", undefined, wait);
  }
  if (!sink.hasRoom(events.length)) {
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      "Events cannot be queued right now; retry later.",
      undefined,
      FULL_RETRY_SECONDS,
    );
  }
  const byRelease = new Map<string, { miniProgram: string; records: EventRecord[] }[]>();
  for (const e of events) {
    const record: EventRecord = {
      k: hashes.event(deviceId, e.id),
      d: device,
      t: e.type,
      at: e.at,
      v: e.version,
      e: e.errorCode,
    };
    const groups = byRelease.get(e.releaseId) ?? [];
    const group = groups.find((g) => g.miniProgram === e.miniProgram);
    if (group) group.records.push(record);
    else groups.push({ miniProgram: e.miniProgram, records: [record] });
    byRelease.set(e.releaseId, groups);
  }
  const flush: Promise<void>[] = [];
  for (const [releaseId, groups] of byRelease) {
    for (const g of groups) {
      const pending = sink.add(releaseId, appId, env, g.miniProgram, g.records);
      if (pending) flush.push(pending);
    }
  }
  return { accepted: events.length, flush };
}
