// The stats Queue's consumer (docs/statistics.md): a batch of messages from many isolates, each
// holding events grouped by release. Each release's events are checked against where the release is
// delivered (app, environment, mini program, version: an event naming another is not about this
// release and is dropped, like one naming an unknown release) and handed to the release's monitor in
// one call per release per batch.

import type { SampledDevice } from "../domain/stats/audience-reach";
import type { SampleView } from "../domain/stats/audience-sample";
import type { GateRecord } from "./health-gates";
import type { Clock } from "./ports";
import type { AudienceGroup, EventRecord, ReleaseAddress, StatsBucket, StatsMessage, StatsStore } from "./stats-ports";

/** The per-release monitors (edge/release-monitor.ts), one Durable Object each. */
export interface ReleaseMonitors {
  ingest(releaseId: string, events: EventRecord[], now: number): Promise<{ counted: number; duplicates: number }>;
  offered(
    releaseId: string,
    messageId: string,
    count: number,
    at: number,
    devices: Uint8Array,
    now: number,
  ): Promise<void>;
  /** Arms or disarms a release's health gate. */
  arm(releaseId: string, workspaceId: string, armed: boolean): Promise<void>;
  /** The gate as last judged, or null. */
  gate(releaseId: string): Promise<(GateRecord & { armed: boolean }) | null>;
  /** Minute buckets with `from <= start < to` (the last 24 hours are kept). */
  minutes(releaseId: string, from: number, to: number): Promise<StatsBucket[]>;
  /** Hour buckets with `from <= start < to`, and the serialized distinct-device sketch of each metric over them. */
  hours(
    releaseId: string,
    from: number,
    to: number,
  ): Promise<{ buckets: StatsBucket[]; devices: Record<string, Uint8Array> }>;
}

/** Where releases are delivered, cached in the isolate (a release's address never changes). */
export class ReleaseAddresses {
  private readonly known = new Map<string, ReleaseAddress>();
  private readonly unknown = new Map<string, number>();

  constructor(
    private readonly store: Pick<StatsStore, "releaseAddresses">,
    private readonly unknownTtlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  async resolve(releaseIds: readonly string[], now: number): Promise<Map<string, ReleaseAddress>> {
    const out = new Map<string, ReleaseAddress>();
    const ask: string[] = [];
    for (const id of releaseIds) {
      const hit = this.known.get(id);
      if (hit) out.set(id, hit);
      else if ((this.unknown.get(id) ?? Number.NEGATIVE_INFINITY) <= now - this.unknownTtlMs) ask.push(id);
    }
    if (ask.length === 0) return out;
    if (this.known.size + ask.length > this.maxEntries) this.known.clear();
    if (this.unknown.size + ask.length > this.maxEntries) this.unknown.clear();
    const found = await this.store.releaseAddresses(ask);
    for (const a of found) {
      this.known.set(a.releaseId, a);
      out.set(a.releaseId, a);
    }
    for (const id of ask) if (!out.has(id)) this.unknown.set(id, now);
    return out;
  }
}

/** The per-target audience monitors (edge/audience-monitor.ts), one Durable Object per (app, environment). */
export interface AudienceMonitors {
  record(group: AudienceGroup, messageId: string, now: number): Promise<void>;
  /** The sample of the days `[fromDay, toDay]` seen by one mini program: the devices that asked about it. */
  sampleFor(
    appKey: string,
    env: string,
    miniProgram: string,
    fromDay: number,
    toDay: number,
  ): Promise<SampleView<SampledDevice>>;
  installed(
    appKey: string,
    env: string,
    miniProgram: string,
    from: number,
    to: number,
  ): Promise<{ at: number; version: string; checks: number; devices: number }[]>;
}

export interface IngestPorts {
  clock: Clock;
  addresses: ReleaseAddresses;
  monitors: ReleaseMonitors;
  audiences: AudienceMonitors;
}

export interface IngestReport {
  received: number;
  counted: number;
  duplicates: number;
  /** Events of unknown releases, or naming another app, environment, mini program or version than their release. */
  dropped: number;
}

/** Counts a batch of stats messages. Throws when a monitor cannot be reached: the batch is retried, and counted once. */
export async function ingestStats(ports: IngestPorts, messages: readonly StatsMessage[]): Promise<IngestReport> {
  const byRelease = new Map<string, { appKey: string; env: string; miniProgram: string; events: EventRecord[] }[]>();
  let received = 0;
  for (const m of messages) {
    for (const g of m.groups) {
      received += g.events.length;
      const list = byRelease.get(g.releaseId) ?? [];
      list.push(g);
      byRelease.set(g.releaseId, list);
    }
  }
  const now = ports.clock.now();
  const addresses = await ports.addresses.resolve([...byRelease.keys()], now);
  let counted = 0;
  let duplicates = 0;
  let dropped = 0;
  // What checks recorded: offers per release (unknown releases dropped), audiences per target.
  const offers = messages.flatMap((m) => (m.offers ?? []).map((o) => ({ o, id: m.id ?? "" })));
  const audiences = messages.flatMap((m) => (m.audience ?? []).map((a) => ({ a, id: m.id ?? "" })));
  const offerAddresses = await ports.addresses.resolve([...new Set(offers.map((x) => x.o.releaseId))], now);
  await Promise.all([
    ...offers
      .filter((x) => x.id !== "" && offerAddresses.has(x.o.releaseId))
      .map((x) =>
        ports.monitors.offered(
          x.o.releaseId,
          `${x.id}:${x.o.releaseId}`,
          x.o.count,
          x.o.at,
          fromBase64(x.o.devices),
          now,
        ),
      ),
    ...audiences.filter((x) => x.id !== "").map((x) => ports.audiences.record(x.a, `${x.id}:${x.a.appKey}`, now)),
  ]);
  await Promise.all(
    [...byRelease].map(async ([releaseId, groups]) => {
      const a = addresses.get(releaseId);
      const events: EventRecord[] = [];
      for (const g of groups) {
        const matches = a && g.appKey === a.appKey && g.env === a.env && g.miniProgram === a.miniProgram;
        for (const e of g.events) {
          if (matches && e.v === a.version) events.push(e);
          else dropped++;
        }
      }
      if (events.length === 0) return;
      const r = await ports.monitors.ingest(releaseId, events, now);
      counted += r.counted;
      duplicates += r.duplicates;
    }),
  );
  return { received, counted, duplicates, dropped };
}

/** Whether a Queue message body is a stats message (the consumer's other messages are patch jobs). */
export function isStatsMessage(body: unknown): body is StatsMessage {
  return (
    typeof body === "object" &&
    body !== null &&
    (body as StatsMessage).kind === "stats" &&
    Array.isArray((body as StatsMessage).groups)
  );
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
