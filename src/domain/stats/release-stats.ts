// What a release's counts mean (docs/statistics.md): the metrics, their totals over a range, and the
// failure rate health gates judge. Pure.
import { EVENT_TYPES, type EventType } from "./event-batch";

/** Metrics counted per bucket: every event type, and `offered` (checks that answered this release). */
export const METRICS = ["offered", ...EVENT_TYPES] as const;
export type Metric = (typeof METRICS)[number];

export const FAILURE_TYPES: readonly EventType[] = ["download_failed", "install_failed", "launch_failed"];

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;

/** How long minute buckets are kept (then only hours remain). */
export const MINUTE_RETENTION_MS = 24 * HOUR_MS;

export type Counts = Partial<Record<Metric, number>>;

/**
 * Attempts and failures as health gates count them: an attempt is a download started (download_ok or
 * download_failed: every update begins with one), a failure is a failed download, install or launch.
 * Failures are capped at attempts (launch reports can outnumber downloads).
 */
export function attemptsAndFailures(counts: Counts): { attempts: number; failures: number } {
  const attempts = (counts.download_ok ?? 0) + (counts.download_failed ?? 0);
  let failures = 0;
  for (const t of FAILURE_TYPES) failures += counts[t] ?? 0;
  return { attempts, failures: Math.min(failures, attempts) };
}

/** Adds `b` into `a`. */
export function addCounts(a: Counts, b: Counts): Counts {
  for (const [k, n] of Object.entries(b) as [Metric, number][]) a[k] = (a[k] ?? 0) + n;
  return a;
}

/** Failure rate in basis points (failures per attempt, as gates count them), or null with no attempts. */
export function failureRateBasisPoints(counts: Counts): number | null {
  const { attempts, failures } = attemptsAndFailures(counts);
  return attempts === 0 ? null : Math.round((failures / attempts) * 10_000 * 100) / 100;
}

export const isMetric = (m: string): m is Metric => (METRICS as readonly string[]).includes(m);
