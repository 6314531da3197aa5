// A release's statistics for admins (docs/statistics.md): counts per minute (last 24 hours) or per
// hour (history), totals, the failure rate as health gates count it, and distinct devices estimated
// from HyperLogLog sketches. Live counts come from the release's monitor; hours it has rolled up are
// read from the relational store too, so history survives the monitor.
import { AppError } from "../domain/errors";
import { HLL_DEFAULT_PRECISION, HyperLogLog, hllStandardError } from "../domain/stats/hll";
import {
  addCounts,
  attemptsAndFailures,
  type Counts,
  failureRateBasisPoints,
  HOUR_MS,
  METRICS,
  type Metric,
  MINUTE_MS,
  MINUTE_RETENTION_MS,
} from "../domain/stats/release-stats";
import type { Context, Deps } from "./ports";
import type { StatsBucket } from "./stats-ports";
import { notFound, requirePermission } from "./support";

export type StatsStep = "minute" | "hour";

/** Most buckets one answer holds: a day of minutes, or 90 days of hours. */
export const MAX_BUCKETS = { minute: 24 * 60, hour: 90 * 24 } as const;

export interface StatsQuery {
  from?: number;
  to?: number;
  step?: StatsStep;
}

export interface DistinctDevices {
  estimate: number;
  /** One standard error, in devices. */
  standardError: number;
}

export async function releaseStats(deps: Deps, ctx: Context, releaseId: string, query: StatsQuery) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "mini_program:read", release.miniProgramId);
  const now = deps.clock.now();
  const step = query.step ?? "hour";
  const size = step === "minute" ? MINUTE_MS : HOUR_MS;
  const to = Math.ceil((query.to ?? now) / size) * size;
  const from = Math.floor((query.from ?? to - 24 * HOUR_MS) / size) * size;
  if (from >= to) throw invalid("/from", "Must be before `to`.");
  if ((to - from) / size > MAX_BUCKETS[step]) {
    throw invalid("/from", `A ${step} step covers at most ${MAX_BUCKETS[step]} buckets: narrow the range.`);
  }
  if (step === "minute" && from < now - MINUTE_RETENTION_MS - MINUTE_MS) {
    throw invalid("/from", "Minute buckets are kept for 24 hours: ask older ranges with step=hour.");
  }
  const hourFrom = Math.floor(from / HOUR_MS) * HOUR_MS;
  const hourTo = Math.ceil(to / HOUR_MS) * HOUR_MS;
  const [live, history] = await Promise.all([
    deps.stats.monitors.hours(releaseId, hourFrom, hourTo),
    deps.store.hourlyStats(releaseId, hourFrom, hourTo),
  ]);
  // Hours: the monitor's counts where it has them (they only grow), else the rolled-up history.
  const hours = new Map<number, Counts>();
  const sketches = new Map<string, HyperLogLog>();
  const absorb = (metric: string, bytes: Uint8Array | null) => {
    if (bytes === null) return;
    const s = HyperLogLog.deserialize(bytes);
    const held = sketches.get(metric);
    if (held) held.merge(s);
    else sketches.set(metric, s);
  };
  for (const r of history) {
    const counts = hours.get(r.hour) ?? {};
    counts[r.metric as Metric] = r.count;
    hours.set(r.hour, counts);
    absorb(r.metric, r.devices);
  }
  for (const b of live.buckets) {
    const counts = hours.get(b.at) ?? {};
    for (const [m, n] of Object.entries(b.counts)) counts[m as Metric] = Math.max(counts[m as Metric] ?? 0, n);
    hours.set(b.at, counts);
  }
  for (const [metric, bytes] of Object.entries(live.devices)) absorb(metric, bytes);
  const buckets: StatsBucket[] =
    step === "hour"
      ? [...hours]
          .filter(([h]) => h >= from && h < to)
          .map(([at, counts]) => ({ at, counts }))
          .sort((a, b) => a.at - b.at)
      : await deps.stats.monitors.minutes(releaseId, from, to);
  const totals: Counts = {};
  for (const b of buckets) addCounts(totals, b.counts);
  const devices: Partial<Record<Metric, DistinctDevices>> = {};
  for (const metric of METRICS) {
    const s = sketches.get(metric);
    const estimate = s ? Math.round(s.estimate()) : 0;
    devices[metric] = {
      estimate,
      standardError: Math.round(estimate * hllStandardError(s?.precision ?? HLL_DEFAULT_PRECISION)),
    };
  }
  const complete = (c: Counts) => Object.fromEntries(METRICS.map((m) => [m, c[m] ?? 0])) as Record<Metric, number>;
  return {
    releaseId,
    from,
    to,
    step,
    totals: {
      ...complete(totals),
      ...attemptsAndFailures(totals),
      failureRateBasisPoints: failureRateBasisPoints(totals),
    },
    devices,
    devicesRange: { from: hourFrom, to: hourTo },
    buckets: buckets.map((b) => ({ at: b.at, counts: complete(b.counts) })),
  };
}

function invalid(pointer: string, message: string): AppError {
  return new AppError("VALIDATION_FAILED", "The query is not valid.", [{ pointer, message }]);
}

/** Most hours one installed-versions answer covers (30 days, what the audience monitor keeps). */
export const MAX_INSTALLED_HOURS = 30 * 24;

/**
 * The installed versions of a mini program on a target over time, from checks (docs/statistics.md):
 * per hour and version, the checks that reported it and the distinct devices (HyperLogLog, ±1.6 %).
 */
export async function installedVersions(
  deps: Deps,
  ctx: Context,
  miniProgramId: string,
  query: { appId: string; env: string; from?: number; to?: number },
) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "mini_program:read", mp.id);
  const app = await deps.store.getApp(ctx.actor.workspaceId, query.appId);
  if (app === null) throw notFound("The app");
  const now = deps.clock.now();
  const to = Math.ceil((query.to ?? now) / HOUR_MS) * HOUR_MS;
  const from = Math.floor((query.from ?? to - 24 * HOUR_MS) / HOUR_MS) * HOUR_MS;
  if (from >= to) throw invalid("/from", "Must be before `to`.");
  if ((to - from) / HOUR_MS > MAX_INSTALLED_HOURS) throw invalid("/from", "At most 30 days: narrow the range.");
  const rows = await deps.stats.audiences.installed(app.key, query.env, mp.key, from, to);
  const buckets: { at: number; versions: Record<string, { checks: number; devices: number }> }[] = [];
  for (const r of rows) {
    let last = buckets[buckets.length - 1];
    if (last?.at !== r.at) {
      last = { at: r.at, versions: {} };
      buckets.push(last);
    }
    last.versions[r.version] = { checks: r.checks, devices: r.devices };
  }
  return { miniProgramId: mp.id, appId: app.key, env: query.env, from, to, buckets };
}
