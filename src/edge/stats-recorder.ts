// The isolate's buffer of device events (docs/statistics.md): requests add to it, and it is flushed
// to the stats Queue in a few large messages, never one message (or one Durable Object call) per
// request. A flush happens FLUSH_MS after the first record of an empty buffer, or at once when the
// buffer holds `maxRecords`; the caller hands the returned promise to waitUntil so the runtime keeps
// the isolate's work alive until it is sent.
import type { EventGroup, EventRecord, StatsMessage } from "../usecases/stats-ports";

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
      // Not rescheduled here: the next request's add schedules the flush (and keeps it alive).
      for (const g of groups) this.put(g);
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
function sendBatches(messages: readonly StatsMessage[]): { body: StatsMessage }[][] {
  const batches: { body: StatsMessage }[][] = [];
  let batch: { body: StatsMessage }[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = JSON.stringify(body).length;
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
