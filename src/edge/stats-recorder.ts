// The isolate's buffer of device events (docs/statistics.md): requests add to it, and it is flushed
// to the stats Queue in a few large messages, never one message (or one Durable Object call) per
// request. A flush happens FLUSH_MS after the first record of an empty buffer, or at once when the
// buffer holds `maxRecords`; the caller hands the returned promise to waitUntil so the runtime keeps
// the isolate's work alive until it is sent.
import { Buffer } from "node:buffer";
import { HyperLogLog } from "../domain/stats/hll";
import type { CheckObserver } from "../usecases/ports";
import type { StatsHashes } from "../usecases/record-events";
import type {
  AudienceGroup,
  EventGroup,
  EventRecord,
  InstalledGroup,
  OfferGroup,
  SampledProfile,
  StatsMessage,
} from "../usecases/stats-ports";

/** Largest Queue message body we build (the Queue's limit is 128 KB). */
export const MAX_MESSAGE_BYTES = 100_000;
/** Largest sendBatch we make, in bytes and in messages (the Queue's limits are 256 KB and 100). */
const MAX_SEND_BYTES = 240_000;
const MAX_SEND_MESSAGES = 100;
/** Bytes of JSON a group's header and an event cost at most (bounded fields, docs/statistics.md). */
const GROUP_OVERHEAD = 512;

export interface StatsQueue {
  sendBatch(messages: { body: StatsMessage }[]): Promise<unknown>;
}

export interface RecorderOptions {
  /** How long a record waits in the buffer at most before it is sent (ms). */
  flushMs: number;
  /** Records that trigger a flush at once. */
  flushRecords: number;
  /** Records held at most, sent or not (a failing Queue): past this, `add` refuses. */
  maxRecords: number;
}

export const DEFAULT_RECORDER: RecorderOptions = { flushMs: 1000, flushRecords: 2000, maxRecords: 50_000 };

export class StatsRecorder {
  private groups = new Map<string, EventGroup>();
  private records = 0;
  private scheduled: Promise<void> | null = null;
  private sending = 0;

  constructor(
    private readonly queue: StatsQueue,
    private readonly options: RecorderOptions = DEFAULT_RECORDER,
  ) {}

  /** Records waiting in the buffer or being sent. */
  get held(): number {
    return this.records + this.sending;
  }

  /** Whether `n` more records fit: false while a failing Queue has filled the buffer. */
  hasRoom(n: number): boolean {
    return this.held + n <= this.options.maxRecords;
  }

  /**
   * Adds events of one release; returns the flush to keep alive (waitUntil), or null when one is
   * already scheduled by an earlier request.
   */
  add(
    releaseId: string,
    appKey: string,
    env: string,
    miniProgram: string,
    events: EventRecord[],
  ): Promise<void> | null {
    this.put({ releaseId, appKey, env, miniProgram, events });
    if (this.records >= this.options.flushRecords) return this.flush();
    if (this.scheduled) return null;
    this.scheduled = new Promise<void>((resolve) => setTimeout(resolve, this.options.flushMs)).then(() => this.flush());
    return this.scheduled;
  }

  private put(g: EventGroup): void {
    const key = `${g.releaseId}\n${g.appKey}\n${g.env}\n${g.miniProgram}`;
    const group = this.groups.get(key);
    if (group) for (const e of g.events) group.events.push(e);
    else this.groups.set(key, { ...g, events: [...g.events] });
    this.records += g.events.length;
  }

  /** Sends everything buffered now. A failed send puts the records back for the next flush. */
  async flush(): Promise<void> {
    this.scheduled = null;
    if (this.records === 0) return;
    const groups = [...this.groups.values()];
    const count = this.records;
    this.groups = new Map();
    this.records = 0;
    this.sending += count;
    try {
      for (const batch of sendBatches(toMessages(groups))) await this.queue.sendBatch(batch);
    } catch (error) {
      console.warn(`stats: sending ${count} event records failed, kept for the next flush: ${String(error)}`);
      for (const g of groups) this.put(g);
      // Tried again a little later, within the work the runtime keeps alive for this flush (waitUntil
      // lasts up to 30 s after the response); past that, the next request's add schedules it.
      if (this.scheduled === null) {
        this.scheduled = new Promise<void>((resolve) => setTimeout(resolve, this.options.flushMs * 4)).then(() =>
          this.flush(),
        );
        await this.scheduled;
      }
    } finally {
      this.sending -= count;
    }
  }
}

/** Cuts groups into messages of at most MAX_MESSAGE_BYTES of JSON (a big group is split). */
export function toMessages(groups: readonly EventGroup[]): StatsMessage[] {
  const messages: StatsMessage[] = [];
  let current: EventGroup[] = [];
  let size = 0;
  const close = () => {
    if (current.length > 0) messages.push({ kind: "stats", groups: current });
    current = [];
    size = 0;
  };
  for (const g of groups) {
    let part: EventGroup | null = null;
    for (const e of g.events) {
      const cost = JSON.stringify(e).length + 1;
      if (part === null || size + cost > MAX_MESSAGE_BYTES) {
        if (size + GROUP_OVERHEAD + cost > MAX_MESSAGE_BYTES) close();
        part = { releaseId: g.releaseId, appKey: g.appKey, env: g.env, miniProgram: g.miniProgram, events: [] };
        current.push(part);
        size += GROUP_OVERHEAD;
      }
      part.events.push(e);
      size += cost;
    }
  }
  close();
  return messages;
}

/** Groups messages into sendBatch calls within the Queue's limits. */
function sendBatches(
  messages: readonly StatsMessage[],
  sizeOf: (m: StatsMessage) => number = (m) => JSON.stringify(m).length,
): { body: StatsMessage }[][] {
  const batches: { body: StatsMessage }[][] = [];
  let batch: { body: StatsMessage }[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = sizeOf(body);
    if (batch.length > 0 && (bytes + size > MAX_SEND_BYTES || batch.length >= MAX_SEND_MESSAGES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ body });
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

// ---- what checks add: offers, installed versions, the audience sample ------------------------------

/** Precision of the per-flush sketches of checks (offers, installed versions): ≤ 3 KiB serialized. */
export const CHECK_SKETCH_PRECISION = 12;
/** Mini programs a sampled device keeps (the first asked). */
export const SAMPLE_MINI_PROGRAMS = 32;
/** Devices an isolate remembers having sampled per target and day (≈ 100 B each: ≤ 1 MB per target, 16 targets). */
export const SAMPLED_PER_DAY = 10_000;
/** How long an isolate uses a target's sample threshold before reading it again (ms). */
const THRESHOLD_TTL_MS = 60_000;
const DAY_MS = 86_400_000;

/** The day's sample threshold of a target: the upper 32 bits of its k-th smallest device hash (2^32: not full). */
export type ThresholdSource = (appKey: string, env: string, day: number) => Promise<number>;

interface TargetBuffer {
  appKey: string;
  env: string;
  sample: Map<string, [string, number, SampledProfile]>;
  /** mini program → version → what checks reported. */
  installed: Map<string, Map<string, { miniProgram: string; version: string; count: number; sketch: HyperLogLog }>>;
}

export class CheckRecorder implements CheckObserver {
  private offers = new Map<string, { count: number; sketch: HyperLogLog }>();
  private targets = new Map<string, TargetBuffer>();
  private windowStart = 0;
  private scheduled: Promise<void> | null = null;
  private readonly thresholds = new Map<string, { value: number; at: number; loading: boolean }>();
  private readonly sampled = new Map<string, { day: number; hashes: Set<string> }>();

  constructor(
    private readonly queue: StatsQueue,
    private readonly hashes: StatsHashes,
    private readonly threshold: ThresholdSource,
    private readonly flushMs: number,
  ) {}

  /**
   * Records one answered check: the releases it offered, the versions it reported installed, and the
   * device's profile if its hash is under the target's sample threshold. Synchronous and small (a
   * keyed hash, a few map updates); returns the flush to keep alive, or null.
   */
  readonly observe: CheckObserver["observe"] = (appKey, env, deviceId, userId, profile, asked, offered, now) => {
    const hash = this.hashes.device(deviceId);
    const hi = Number.parseInt(hash.slice(0, 8), 16);
    const lo = Number.parseInt(hash.slice(8), 16);
    if (this.windowStart === 0) this.windowStart = now;
    for (let i = 0; i < offered.length; i++) {
      const id = offered[i] as string;
      let o = this.offers.get(id);
      if (o === undefined) {
        o = { count: 0, sketch: new HyperLogLog(CHECK_SKETCH_PRECISION) };
        this.offers.set(id, o);
      }
      o.count++;
      o.sketch.add(hi, lo);
    }
    const key = `${appKey}\n${env}`;
    let t = this.targets.get(key);
    if (t === undefined) {
      t = { appKey, env, sample: new Map(), installed: new Map() };
      this.targets.set(key, t);
    }
    for (let i = 0; i < asked.length; i++) {
      const m = asked[i] as { id: string; version: string | null };
      if (m.version === null) continue;
      let versions = t.installed.get(m.id);
      if (versions === undefined) {
        versions = new Map();
        t.installed.set(m.id, versions);
      }
      let v = versions.get(m.version);
      if (v === undefined) {
        v = { miniProgram: m.id, version: m.version, count: 0, sketch: new HyperLogLog(CHECK_SKETCH_PRECISION) };
        versions.set(m.version, v);
      }
      v.count++;
      v.sketch.add(hi, lo);
    }
    if (hi < this.thresholdOf(appKey, env, now) && this.firstToday(key, hash, now)) {
      const miniPrograms: string[] = [];
      for (let i = 0; i < asked.length && i < SAMPLE_MINI_PROGRAMS; i++)
        miniPrograms.push((asked[i] as { id: string }).id);
      const user = userId === null || userId === "" ? null : this.hashes.user(userId);
      t.sample.set(hash, [hash, now, { profile, user, miniPrograms }]);
    }
    if (this.scheduled) return null;
    this.scheduled = new Promise<void>((resolve) => setTimeout(resolve, this.flushMs)).then(() => this.flush());
    return this.scheduled;
  };

  /**
   * Whether this isolate has not sampled the device on the target today (then remembers it): a device
   * that checks every minute is sent once a day per isolate, not once per flush. Bounded: past
   * SAMPLED_PER_DAY devices of a target, the memory starts over (some devices are sent again).
   */
  private firstToday(target: string, hash: string, now: number): boolean {
    const day = Math.floor(now / DAY_MS);
    let seen = this.sampled.get(target);
    if (seen === undefined || seen.day !== day || seen.hashes.size >= SAMPLED_PER_DAY) {
      if (seen === undefined && this.sampled.size >= 16) this.sampled.clear();
      seen = { day, hashes: new Set() };
      this.sampled.set(target, seen);
    }
    if (seen.hashes.has(hash)) return false;
    seen.hashes.add(hash);
    return true;
  }

  /** The cached threshold, refreshed in the background; 2^32 (sample everyone) until known. */
  private thresholdOf(appKey: string, env: string, now: number): number {
    const day = Math.floor(now / DAY_MS);
    const key = `${appKey}\n${env}\n${day}`;
    const held = this.thresholds.get(key);
    if (held !== undefined && (held.loading || now - held.at < THRESHOLD_TTL_MS)) return held.value;
    const entry = { value: held?.value ?? 2 ** 32, at: now, loading: true };
    if (this.thresholds.size > 1000) this.thresholds.clear();
    this.thresholds.set(key, entry);
    this.threshold(appKey, env, day).then(
      (value) => {
        entry.value = value;
        entry.loading = false;
      },
      () => {
        entry.loading = false;
      },
    );
    return entry.value;
  }

  /** Sends what was recorded since the last flush (offers, installed versions, sampled profiles). */
  async flush(): Promise<void> {
    this.scheduled = null;
    const at = this.windowStart;
    const offers = this.offers;
    const targets = this.targets;
    this.offers = new Map();
    this.targets = new Map();
    this.windowStart = 0;
    const messages: StatsMessage[] = [];
    const id = () => crypto.randomUUID();
    const offerList: OfferGroup[] = [];
    for (const [releaseId, o] of offers) {
      offerList.push({ releaseId, count: o.count, at, devices: toBase64(o.sketch.serialize()) });
    }
    for (const part of chunks(offerList, INSTALLED_PER_MESSAGE)) {
      messages.push({ kind: "stats", id: id(), groups: [], offers: part });
    }
    for (const t of targets.values()) {
      const installed: InstalledGroup[] = [...t.installed.values()]
        .flatMap((versions) => [...versions.values()])
        .map((v) => ({
          miniProgram: v.miniProgram,
          version: v.version,
          count: v.count,
          devices: toBase64(v.sketch.serialize()),
        }));
      const sample = [...t.sample.values()];
      const parts = Math.max(
        Math.ceil(installed.length / INSTALLED_PER_MESSAGE),
        Math.ceil(sample.length / SAMPLE_PER_MESSAGE),
        1,
      );
      for (let i = 0; i < parts; i++) {
        const group: AudienceGroup = {
          appKey: t.appKey,
          env: t.env,
          at,
          sample: sample.slice(i * SAMPLE_PER_MESSAGE, (i + 1) * SAMPLE_PER_MESSAGE),
          installed: installed.slice(i * INSTALLED_PER_MESSAGE, (i + 1) * INSTALLED_PER_MESSAGE),
        };
        messages.push({ kind: "stats", id: id(), groups: [], audience: [group] });
      }
    }
    try {
      for (const batch of sendBatches(messages, estimatedSize)) await this.queue.sendBatch(batch);
    } catch (error) {
      // Offers and installed versions are estimates of activity: a lost flush is reported, not replayed.
      console.warn(`stats: sending what ${messages.length} checks messages held failed: ${String(error)}`);
    }
  }
}

/**
 * Parts of a checks message: a sketch serializes to at most 3,074 bytes (≈ 4.1 KB in base64) and a
 * sampled device to about 1 KB of JSON (bounded fields, 32 mini program keys), so a message stays
 * under MAX_MESSAGE_BYTES without serializing it to measure.
 */
const INSTALLED_PER_MESSAGE = 10;
const SAMPLE_PER_MESSAGE = 40;

/** An upper estimate of a checks message's JSON size, without building it. */
function estimatedSize(m: StatsMessage): number {
  let n = 200;
  for (const o of m.offers ?? []) n += o.devices.length + o.releaseId.length + 100;
  for (const a of m.audience ?? []) {
    for (const v of a.installed) n += v.devices.length + v.miniProgram.length + v.version.length + 100;
    n += a.sample.length * 1500;
  }
  return n;
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}
