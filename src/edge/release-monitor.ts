import { DurableObject } from "cloudflare:workers";
import { HyperLogLog } from "../domain/stats/hll";
import {
  type Counts,
  HOUR_MS,
  isMetric,
  type Metric,
  MINUTE_MS,
  MINUTE_RETENTION_MS,
} from "../domain/stats/release-stats";
import type { GateRecord } from "../usecases/health-gates";
import type { EventRecord, HourlyRow, StatsBucket, StatsStore } from "../usecases/stats-ports";

/** Precision of the hourly distinct-device sketches: 4,096 registers, 1.63 % standard error, ≤ 3 KiB. */
export const DEVICE_SKETCH_PRECISION = 12;

/** How long an event key is remembered: the oldest event accepted is 7 days old, plus a day of delivery delay. */
export const EVENT_KEY_RETENTION_MS = 8 * 24 * HOUR_MS;

/** How often dirty hours are rolled up into the relational store while events arrive. */
export const ROLLUP_EVERY_MS = 60_000;

type HourRow = { h: number; metric: string; n: number };

/**
 * The statistics of one release (one object per release, named by its id): exact counts of its
 * id-deduplicated events in minute buckets (kept 24 hours) and hour buckets (kept for good), and a
 * HyperLogLog of distinct devices per hour and metric. A Durable Object handles one call at a time
 * and every write here is synchronous SQLite, so an ingest is applied whole or not at all and two
 * never interleave: an event key is counted exactly once however often the Queue delivers it.
 *
 * Its alarm rolls dirty hours up into D1 (`release_stats_hourly`) about once a minute while events
 * arrive, and forgets event keys past their retention.
 */
/** How often an armed health gate is judged: a threshold crossed is acted on within a minute. */
export const GATE_EVERY_MS = 30_000;

/** What the monitor asks of the composition root about its gate (usecases/health-gates.ts judgeHealth). */
export type GateJudge = (
  releaseId: string,
  workspaceId: string,
  windowCounts: (windowMs: number) => Counts,
  lastActionAt: number | null,
) => Promise<{ disarm: boolean; record: GateRecord["last"]; actedAt: number | null }>;

export abstract class ReleaseMonitorBase extends DurableObject<Env> {
  /** Where hours are rolled up (the composition root gives D1: this layer does not know the store). */
  protected abstract history(): Pick<StatsStore, "putHourlyStats">;
  /** Judges the health gate (the composition root gives the use case and its ports). */
  protected abstract judge(): GateJudge;

  private readonly sketches = new Map<string, HyperLogLog>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("create table if not exists seen (k text primary key, at integer not null) without rowid");
    sql.exec("create index if not exists seen_at on seen (at)");
    sql.exec(
      "create table if not exists minutes (m integer not null, metric text not null, n integer not null, primary key (m, metric)) without rowid",
    );
    sql.exec(
      "create table if not exists hours (h integer not null, metric text not null, n integer not null, dirty integer not null default 1, primary key (h, metric)) without rowid",
    );
    sql.exec(
      "create table if not exists sketches (h integer not null, metric text not null, regs blob not null, primary key (h, metric)) without rowid",
    );
    sql.exec("create table if not exists meta (k text primary key, v text not null) without rowid");
  }

  /**
   * Counts events not seen before (by key); returns how many were new. Times past `now` count at
   * `now` (device clocks run ahead).
   */
  ingest(releaseId: string, events: EventRecord[], now: number): { counted: number; duplicates: number } {
    this.remember(releaseId);
    const sql = this.ctx.storage.sql;
    let counted = 0;
    const touched = new Set<string>();
    for (const e of events) {
      if (sql.exec("insert or ignore into seen (k, at) values (?, ?)", e.k, now).rowsWritten === 0) continue;
      if (!isMetric(e.t)) continue;
      counted++;
      const at = Math.min(e.at, now);
      this.count(e.t, at, 1);
      this.sketch(Math.floor(at / HOUR_MS) * HOUR_MS, e.t, touched).addHex(e.d);
    }
    this.saveSketches(touched);
    if (counted > 0) this.armRollup();
    return { counted, duplicates: events.length - counted };
  }

  /**
   * Counts checks that offered this release (one isolate's flush): applied once per message id. The
   * devices sketch is merged into the hour's `offered` sketch.
   */
  offered(releaseId: string, messageId: string, count: number, at: number, devices: Uint8Array, now: number): boolean {
    this.remember(releaseId);
    const sql = this.ctx.storage.sql;
    if (sql.exec("insert or ignore into seen (k, at) values (?, ?)", `m:${messageId}`, now).rowsWritten === 0)
      return false;
    const when = Math.min(at, now);
    this.count("offered", when, count);
    const touched = new Set<string>();
    this.sketch(Math.floor(when / HOUR_MS) * HOUR_MS, "offered", touched).merge(HyperLogLog.deserialize(devices));
    this.saveSketches(touched);
    this.armRollup();
    return true;
  }

  /** Minute buckets with `from <= start < to` (only the last 24 hours are kept). */
  minutes(from: number, to: number): StatsBucket[] {
    const rows = this.ctx.storage.sql
      .exec<HourRow>("select m as h, metric, n from minutes where m >= ? and m < ? order by m", from, to)
      .toArray();
    return buckets(rows);
  }

  /** Hour buckets with `from <= start < to`, and the distinct devices per metric over them. */
  hours(from: number, to: number): { buckets: StatsBucket[]; devices: Record<string, Uint8Array> } {
    const sql = this.ctx.storage.sql;
    const rows = sql
      .exec<HourRow>("select h, metric, n from hours where h >= ? and h < ? order by h", from, to)
      .toArray();
    const merged = new Map<string, HyperLogLog>();
    for (const r of sql.exec<{ metric: string; regs: ArrayBuffer }>(
      "select metric, regs from sketches where h >= ? and h < ?",
      from,
      to,
    )) {
      const s = HyperLogLog.deserialize(new Uint8Array(r.regs));
      const m = merged.get(r.metric);
      if (m) m.merge(s);
      else merged.set(r.metric, s);
    }
    const devices: Record<string, Uint8Array> = {};
    for (const [metric, s] of merged) devices[metric] = s.serialize();
    return { buckets: buckets(rows), devices };
  }

  /** Arms (or disarms) the health gate: an armed gate is judged every GATE_EVERY_MS by the alarm. */
  async arm(releaseId: string, workspaceId: string, armed: boolean): Promise<void> {
    this.remember(releaseId);
    const gate = this.gateRecord() ?? { workspaceId, lastActionAt: null, last: null, armed };
    this.saveGate({ ...gate, workspaceId, armed });
    if (armed) await this.ctx.storage.setAlarm(Date.now() + GATE_EVERY_MS);
  }

  /** The gate as last judged (null: never armed). */
  gate(): (GateRecord & { armed: boolean }) | null {
    return this.gateRecord();
  }

  /** Counts of the last `windowMs` before `now`: minute buckets within 24 hours, hour buckets beyond. */
  windowCounts(windowMs: number, now: number): Counts {
    const sql = this.ctx.storage.sql;
    const from = now - windowMs;
    const rows =
      windowMs <= MINUTE_RETENTION_MS
        ? sql.exec<HourRow>(
            "select m as h, metric, sum(n) as n from minutes where m >= ? group by metric",
            Math.floor(from / MINUTE_MS) * MINUTE_MS,
          )
        : sql.exec<HourRow>(
            "select h, metric, sum(n) as n from hours where h >= ? group by metric",
            Math.floor(from / HOUR_MS) * HOUR_MS,
          );
    const counts: Counts = {};
    for (const r of rows) if (isMetric(r.metric)) counts[r.metric] = r.n;
    return counts;
  }

  /**
   * Rolls dirty hours up into D1, forgets what is past retention, judges an armed gate; re-arms while
   * work remains (every GATE_EVERY_MS while armed). A throw retries the alarm (the platform's backoff).
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    await this.rollup();
    const sql = this.ctx.storage.sql;
    sql.exec("delete from seen where at < ?", now - EVENT_KEY_RETENTION_MS);
    sql.exec("delete from minutes where m < ?", now - MINUTE_RETENTION_MS - MINUTE_MS);
    const gate = this.gateRecord();
    const releaseId = this.releaseId();
    if (gate?.armed && releaseId !== null) {
      const judged = await this.judge()(
        releaseId,
        gate.workspaceId,
        (w) => this.windowCounts(w, now),
        gate.lastActionAt,
      );
      this.saveGate({
        ...gate,
        armed: !judged.disarm,
        last: judged.record ?? gate.last,
        lastActionAt: judged.actedAt ?? gate.lastActionAt,
      });
      if (!judged.disarm) {
        await this.ctx.storage.setAlarm(now + GATE_EVERY_MS);
        return;
      }
    }
    if (sql.exec("select 1 from hours where dirty = 1 limit 1").toArray().length > 0) {
      await this.ctx.storage.setAlarm(now + ROLLUP_EVERY_MS);
    }
  }

  private gateRecord(): (GateRecord & { armed: boolean }) | null {
    const v = this.ctx.storage.sql.exec<{ v: string }>("select v from meta where k = 'gate'").toArray()[0]?.v;
    return v === undefined ? null : (JSON.parse(v) as GateRecord & { armed: boolean });
  }

  private saveGate(gate: GateRecord & { armed: boolean }): void {
    this.ctx.storage.sql.exec(
      "insert into meta (k, v) values ('gate', ?) on conflict (k) do update set v = excluded.v",
      JSON.stringify(gate),
    );
  }

  /** Writes every dirty hour (counts and sketches) to D1, then marks them clean. */
  async rollup(): Promise<number> {
    const releaseId = this.releaseId();
    if (releaseId === null) return 0;
    const sql = this.ctx.storage.sql;
    const dirty = sql.exec<HourRow>("select h, metric, n from hours where dirty = 1").toArray();
    if (dirty.length === 0) return 0;
    const rows: HourlyRow[] = dirty.map((r) => {
      const regs = sql
        .exec<{ regs: ArrayBuffer }>("select regs from sketches where h = ? and metric = ?", r.h, r.metric)
        .toArray()[0]?.regs;
      return { hour: r.h, metric: r.metric, count: r.n, devices: regs ? new Uint8Array(regs) : null };
    });
    await this.history().putHourlyStats(releaseId, rows);
    // Only what was written is clean: counts that changed while D1 was written stay dirty.
    for (const r of dirty)
      sql.exec("update hours set dirty = 0 where h = ? and metric = ? and n = ?", r.h, r.metric, r.n);
    return rows.length;
  }

  private count(metric: Metric, at: number, n: number): void {
    const sql = this.ctx.storage.sql;
    const m = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    const h = Math.floor(at / HOUR_MS) * HOUR_MS;
    sql.exec(
      "insert into minutes (m, metric, n) values (?, ?, ?) on conflict (m, metric) do update set n = n + excluded.n",
      m,
      metric,
      n,
    );
    sql.exec(
      "insert into hours (h, metric, n, dirty) values (?, ?, ?, 1) on conflict (h, metric) do update set n = n + excluded.n, dirty = 1",
      h,
      metric,
      n,
    );
  }

  private sketch(h: number, metric: string, touched: Set<string>): HyperLogLog {
    const key = `${h}:${metric}`;
    touched.add(key);
    let s = this.sketches.get(key);
    if (!s) {
      const row = this.ctx.storage.sql
        .exec<{ regs: ArrayBuffer }>("select regs from sketches where h = ? and metric = ?", h, metric)
        .toArray()[0];
      s = row ? HyperLogLog.deserialize(new Uint8Array(row.regs)) : new HyperLogLog(DEVICE_SKETCH_PRECISION);
      // Only the current hours are worth keeping in memory.
      if (this.sketches.size > 64) this.sketches.clear();
      this.sketches.set(key, s);
    }
    return s;
  }

  private saveSketches(touched: Set<string>): void {
    for (const key of touched) {
      const s = this.sketches.get(key);
      if (!s) continue;
      const [h, metric] = key.split(":") as [string, string];
      this.ctx.storage.sql.exec(
        "insert into sketches (h, metric, regs) values (?, ?, ?) on conflict (h, metric) do update set regs = excluded.regs",
        Number(h),
        metric,
        s.serialize(),
      );
    }
  }

  private remember(releaseId: string): void {
    if (this.releaseId() === null) {
      this.ctx.storage.sql.exec("insert or ignore into meta (k, v) values ('release', ?)", releaseId);
    }
  }

  private releaseId(): string | null {
    return this.ctx.storage.sql.exec<{ v: string }>("select v from meta where k = 'release'").toArray()[0]?.v ?? null;
  }

  /** An alarm soon enough: the rollup's, or the gate's (sooner) while it is armed. */
  private armRollup(): void {
    const every = this.gateRecord()?.armed ? GATE_EVERY_MS : ROLLUP_EVERY_MS;
    void this.ctx.storage.getAlarm().then((at) => {
      const due = Date.now() + every;
      if (at === null || at > due) return this.ctx.storage.setAlarm(due);
    });
  }
}

function buckets(rows: readonly HourRow[]): StatsBucket[] {
  const out: StatsBucket[] = [];
  for (const r of rows) {
    let last = out[out.length - 1];
    if (last?.at !== r.h) {
      last = { at: r.h, counts: {} };
      out.push(last);
    }
    (last.counts as Counts)[r.metric as Metric] = r.n;
  }
  return out;
}
