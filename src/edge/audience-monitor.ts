import { DurableObject } from "cloudflare:workers";
import type { SampledDevice } from "../domain/stats/audience-reach";
import {
  AudienceSample,
  DEFAULT_SAMPLE_CAPACITY,
  mergeSamples,
  type SampleView,
} from "../domain/stats/audience-sample";
import { HyperLogLog } from "../domain/stats/hll";
import { HOUR_MS } from "../domain/stats/release-stats";
import type { AudienceGroup, SampledProfile } from "../usecases/stats-ports";
import { fromBase64 } from "./stats-recorder";

const DAY_MS = 86_400_000;
/** Days of samples and hours of installed versions kept. */
export const AUDIENCE_RETENTION_DAYS = 30;
/** Message ids remembered (a redelivered message is applied once). */
const MESSAGE_RETENTION_MS = 2 * DAY_MS;

/** The KV key isolates read a target's sample threshold of a day from (edge/stats-recorder.ts). */
export const thresholdKey = (appKey: string, env: string, day: number) => `audience-threshold:${appKey}:${env}:${day}`;

type InstalledRow = { h: number; version: string; n: number; regs: ArrayBuffer };

/**
 * The audience of one target (app, environment), named `${appKey}\n${env}`: a bottom-k sample of the
 * devices its checks saw each day (k = 10,000; device hashes and profiles, never ids) for the audience
 * estimate, and per hour the installed versions checks reported (counts and distinct devices).
 * Each day's threshold (the k-th smallest hash) is published to KV once it falls by 10 %, so isolates
 * send only devices that can enter the sample: the sample is the exact bottom-k of every device seen.
 */
export class AudienceMonitor extends DurableObject<Env> {
  private day = -1;
  private today: AudienceSample<SampledProfile> | null = null;
  private published = 2 ** 32;
  /** Changes to a sample since the monitor started: the merged window below is kept until the next one. */
  private changes = 0;
  private window: { key: string; sample: AudienceSample<SampledProfile> } | null = null;
  private past: { key: string; sample: AudienceSample<SampledProfile> } | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      "create table if not exists sample (day integer not null, hash text not null, seen_at integer not null, profile text not null, primary key (day, hash)) without rowid",
    );
    sql.exec(
      "create table if not exists installed (h integer not null, mp text not null, version text not null, n integer not null, regs blob not null, primary key (mp, h, version)) without rowid",
    );
    sql.exec("create table if not exists messages (id text primary key, at integer not null) without rowid");
  }

  /** Applies one message's part for this target (once per message id). */
  async record(group: AudienceGroup, messageId: string, now: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    if (sql.exec("insert or ignore into messages (id, at) values (?, ?)", messageId, now).rowsWritten === 0) return;
    const hour = Math.floor(group.at / HOUR_MS) * HOUR_MS;
    for (const v of group.installed) {
      const row = sql
        .exec<{ n: number; regs: ArrayBuffer }>(
          "select n, regs from installed where mp = ? and h = ? and version = ?",
          v.miniProgram,
          hour,
          v.version,
        )
        .toArray()[0];
      const sketch = HyperLogLog.deserialize(fromBase64(v.devices));
      if (row) sketch.merge(HyperLogLog.deserialize(new Uint8Array(row.regs)));
      sql.exec(
        "insert into installed (h, mp, version, n, regs) values (?, ?, ?, ?, ?) on conflict (mp, h, version) do update set n = excluded.n, regs = excluded.regs",
        hour,
        v.miniProgram,
        v.version,
        (row?.n ?? 0) + v.count,
        sketch.serialize(),
      );
    }
    if (group.sample.length > 0) await this.sampleAll(group, Math.floor(group.at / DAY_MS));
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null) await this.ctx.storage.setAlarm(now + HOUR_MS);
  }

  /**
   * The bottom-k of the devices seen on the days `[fromDay, toDay]`, as one mini program's estimate
   * needs it: the sample's size and population, and only the devices that asked about the mini
   * program, without the list of what they asked (what an estimate sends is a fraction of the sample).
   */
  sampleFor(miniProgram: string, fromDay: number, toDay: number): SampleView<SampledDevice> {
    return this.merged(fromDay, toDay).view((p) =>
      p.miniPrograms.includes(miniProgram) ? { profile: p.profile, user: p.user } : null,
    );
  }

  /**
   * The merged sample of `[fromDay, toDay]`. Past days never change: their merge is kept in memory
   * (one sample) and merged with today's, itself kept until a device enters it, so a page of
   * estimates does not re-read and re-merge the window each time.
   */
  private merged(fromDay: number, toDay: number): AudienceSample<SampledProfile> {
    const key = `${fromDay}:${toDay}:${this.changes}`;
    if (this.window?.key === key) return this.window.sample;
    const today = Math.floor(Date.now() / DAY_MS);
    const lastPast = Math.min(toDay, today - 1);
    const pastKey = `${fromDay}:${lastPast}`;
    if (this.past?.key !== pastKey) {
      let past = new AudienceSample<SampledProfile>(DEFAULT_SAMPLE_CAPACITY);
      for (let day = fromDay; day <= lastPast; day++) past = mergeSamples(past, this.load(day));
      this.past = { key: pastKey, sample: past };
    }
    const sample = toDay >= today ? mergeSamples(this.past.sample, this.sampleOf(today)) : this.past.sample;
    this.window = { key, sample };
    return sample;
  }

  /** Installed versions of a mini program per hour in `[from, to)`: checks and distinct devices. */
  installed(
    miniProgram: string,
    from: number,
    to: number,
  ): { at: number; version: string; checks: number; devices: number }[] {
    return this.ctx.storage.sql
      .exec<InstalledRow>(
        "select h, version, n, regs from installed where mp = ? and h >= ? and h < ? order by h, version",
        miniProgram,
        from,
        to,
      )
      .toArray()
      .map((r) => ({
        at: r.h,
        version: r.version,
        checks: r.n,
        devices: Math.round(HyperLogLog.deserialize(new Uint8Array(r.regs)).estimate()),
      }));
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    const oldest = Math.floor(now / DAY_MS) - AUDIENCE_RETENTION_DAYS;
    sql.exec("delete from sample where day < ?", oldest);
    sql.exec("delete from installed where h < ?", oldest * DAY_MS);
    sql.exec("delete from messages where at < ?", now - MESSAGE_RETENTION_MS);
    await this.ctx.storage.setAlarm(now + HOUR_MS);
  }

  private async sampleAll(group: AudienceGroup, day: number): Promise<void> {
    const sample = this.sampleOf(day);
    this.changes++;
    const before = new Set(sample.entries().map((e) => e.hash));
    for (const [hash, seenAt, profile] of group.sample) sample.offer(hash, profile, seenAt);
    const sql = this.ctx.storage.sql;
    // Written: the entries this message brought that are in the sample now; deleted: those it pushed out.
    for (const [hash] of group.sample) {
      const e = sample.get(hash);
      if (e === undefined) continue;
      sql.exec(
        "insert into sample (day, hash, seen_at, profile) values (?, ?, ?, ?) on conflict (day, hash) do update set seen_at = excluded.seen_at, profile = excluded.profile",
        day,
        e.hash,
        e.seenAt,
        JSON.stringify(e.profile),
      );
    }
    const kept = new Set(sample.entries().map((e) => e.hash));
    for (const h of before) if (!kept.has(h)) sql.exec("delete from sample where day = ? and hash = ?", day, h);
    // Publish the threshold when it fell by 10 % (isolates then send fewer devices).
    const tau = Math.ceil(sample.threshold() * 2 ** 32);
    if (sample.full && tau < this.published * 0.9) {
      this.published = tau;
      await this.env.SNAPSHOTS.put(thresholdKey(group.appKey, group.env, day), String(tau), {
        expirationTtl: 2 * 86_400,
      });
    }
  }

  private sampleOf(day: number): AudienceSample<SampledProfile> {
    if (this.day !== day || this.today === null) {
      this.today = this.load(day);
      this.day = day;
      this.published = 2 ** 32;
    }
    return this.today;
  }

  private load(day: number): AudienceSample<SampledProfile> {
    if (day === this.day && this.today !== null) return this.today;
    const s = new AudienceSample<SampledProfile>(DEFAULT_SAMPLE_CAPACITY);
    for (const r of this.ctx.storage.sql.exec<{ hash: string; seen_at: number; profile: string }>(
      "select hash, seen_at, profile from sample where day = ?",
      day,
    )) {
      s.offer(r.hash, JSON.parse(r.profile) as SampledProfile, r.seen_at);
    }
    return s;
  }
}
