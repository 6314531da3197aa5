// Phased ramps under a health gate (docs/statistics.md). Without a gate the check computes a ramp's
// step from the clock; with one, a step takes effect only once the gate's monitor has judged the
// canary healthy and committed it. Delivery then sees only the committed steps. Pure.

type Json = Record<string, unknown>;
interface Step {
  at: number;
  basisPoints: number;
}

function rampOf(targeting: Json | null): Step[] | null {
  const p = targeting?.percentage as { ramp?: unknown } | null | undefined;
  return Array.isArray(p?.ramp) ? (p.ramp as Step[]) : null;
}

/** The targeting delivery uses: the ramp cut to its first `committed` steps (none: no ramp). */
export function gatedTargeting(targeting: Json | null, committed: number): Json | null {
  const ramp = rampOf(targeting);
  if (targeting === null || ramp === null) return targeting;
  const percentage = targeting.percentage as Json;
  const kept = ramp.slice(0, Math.max(0, committed));
  return { ...targeting, percentage: { ...percentage, ramp: kept.length > 0 ? kept : null } };
}

/** The index of the next step due at `now` that is not committed yet, or null (none due, or no ramp). */
export function nextStepDue(targeting: Json | null, committed: number, now: number): number | null {
  const ramp = rampOf(targeting);
  const step = ramp?.[committed];
  return step !== undefined && step.at <= now ? committed : null;
}

/** The steps of a ramp not committed yet, for "holding" answers. */
export function pendingSteps(targeting: Json | null, committed: number): Step[] {
  return (rampOf(targeting) ?? []).slice(Math.max(0, committed));
}

/** How many of the ramp's steps are due at `now` (those the clock would have applied). */
export function dueSteps(targeting: Json | null, now: number): number {
  return (rampOf(targeting) ?? []).filter((s) => s.at <= now).length;
}
