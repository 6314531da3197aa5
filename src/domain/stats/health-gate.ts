// Health gates (issue #16): a canary's health policy, its validation, and the verdict on the counts
// observed over the policy's window. Pure: the caller reads the clock and the counts.
//
// The gate judges the Wilson lower bound of the failure rate, not the observed rate, so a few early
// failures do not halt a healthy canary. Verdicts, in order:
// - insufficient_data: fewer than minAttempts attempts in the window, or a lower bound over the
//   threshold from fewer than minFailures failures (evidence, not yet enough to act on);
// - healthy: the lower bound is not over the threshold;
// - cooling_down: it is over, with enough data, but the last automatic action is within the cooldown;
// - breached: it is over, with enough data: take the policy's action.
// Only `healthy` lets a gated ramp advance: the others hold it.
import { type FieldError, MAX_FIELD_ERRORS } from "../errors";
import { wilsonLowerBound, Z_90, Z_95, Z_99 } from "./wilson";

export const HEALTH_ACTIONS = ["pause", "end", "notify"] as const;
export type HealthAction = (typeof HEALTH_ACTIONS)[number];

/** Supported confidences and their two-sided normal quantiles (exact values only). */
const Z_FOR_CONFIDENCE = new Map<number, number>([
  [0.9, Z_90],
  [0.95, Z_95],
  [0.99, Z_99],
]);
export type HealthConfidence = 0.9 | 0.95 | 0.99;

export interface HealthPolicy {
  /** Threshold on the failure rate's lower bound, in basis points (100 = 1 %). */
  failureRateBasisPoints: number;
  /** Attempts in the window before the gate judges at all. */
  minAttempts: number;
  /** Failures in the window before the gate acts. */
  minFailures: number;
  confidence: HealthConfidence;
  action: HealthAction;
  /** After an automatic action, no other one for this long (ms). */
  cooldownMs: number;
  /** Counts are taken over the last `windowMs` (whole minutes: minute buckets). */
  windowMs: number;
}

export type HealthVerdict = "healthy" | "insufficient_data" | "breached" | "cooling_down";

export interface HealthGateInput {
  policy: HealthPolicy;
  /** Counts over the policy's window: attempts, and the failures among them. */
  observed: { attempts: number; failures: number };
  now: number;
  /** When this gate last took its action automatically (ms), or null. */
  lastActionAt: number | null;
}

export interface HealthGateResult {
  verdict: HealthVerdict;
  /** Wilson lower bound of the failure rate in basis points, unrounded (0 with no attempts). */
  lowerBoundBasisPoints: number;
  /** One sentence for the audit log and hold reasons. */
  reason: string;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Bounds of each numeric field (integers, inclusive). */
export const HEALTH_POLICY_LIMITS = {
  failureRateBasisPoints: { min: 1, max: 10_000 },
  minAttempts: { min: 1, max: 1_000_000 },
  minFailures: { min: 0, max: 1_000_000 },
  windowMs: { min: MINUTE, max: 7 * DAY },
  cooldownMs: { min: 0, max: 7 * DAY },
} as const;

/** What an authored policy may leave out (failureRateBasisPoints is required). */
export const HEALTH_POLICY_DEFAULTS = {
  minAttempts: 20,
  minFailures: 5,
  confidence: 0.95,
  action: "pause",
  cooldownMs: 10 * MINUTE,
  windowMs: 60 * MINUTE,
} as const satisfies Omit<HealthPolicy, "failureRateBasisPoints">;

/** The two-sided normal quantile for a supported confidence. */
export function zForConfidence(confidence: HealthConfidence): number {
  const z = Z_FOR_CONFIDENCE.get(confidence);
  if (z === undefined) throw new RangeError("confidence must be 0.9, 0.95 or 0.99");
  return z;
}

/** Judges the observed counts against the policy. Throws a RangeError on impossible counts. */
export function evaluateHealthGate(input: HealthGateInput): HealthGateResult {
  const { policy, observed, now, lastActionAt } = input;
  const { attempts, failures } = observed;
  const bound = wilsonLowerBound(failures, attempts, zForConfidence(policy.confidence)) * 10_000;
  const threshold = policy.failureRateBasisPoints;
  const result = (verdict: HealthVerdict, reason: string) => ({ verdict, lowerBoundBasisPoints: bound, reason });
  if (attempts < policy.minAttempts) {
    const seen = `${plural(attempts, "attempt")} (${group(failures)} failed) in the last ${duration(policy.windowMs)}`;
    return result("insufficient_data", `Not enough data: ${seen}; the gate judges from ${group(policy.minAttempts)}.`);
  }
  const stated =
    `Failure rate lower bound ${percent(bound, threshold)} (${group(failures)} of ${plural(attempts, "attempt")}, ` +
    `Wilson ${Math.round(policy.confidence * 100)} %)`;
  const limit = `the ${threshold / 100} % threshold`;
  if (bound <= threshold) return result("healthy", `${stated} is not over ${limit}.`);
  if (failures < policy.minFailures) {
    const needed = plural(policy.minFailures, "failure");
    return result("insufficient_data", `${stated} is over ${limit}, but the gate acts from ${needed}.`);
  }
  if (lastActionAt !== null && now - lastActionAt < policy.cooldownMs) {
    const since = `the last automatic action was ${duration(Math.max(0, now - lastActionAt))} ago`;
    return result(
      "cooling_down",
      `${stated} is over ${limit}, but ${since}, within the ${duration(policy.cooldownMs)} cooldown.`,
    );
  }
  return result("breached", `${stated} is over ${limit}.`);
}

/** Validates an authored health policy, filling in HEALTH_POLICY_DEFAULTS. Pointers are `/field`. */
export function validateHealthPolicy(
  value: unknown,
): { ok: true; policy: HealthPolicy } | { ok: false; errors: FieldError[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, errors: [{ pointer: "", message: "must be an object" }] };
  }
  const input = value as Record<string, unknown>;
  const errors: FieldError[] = [];
  const push = (pointer: string, message: string) => {
    if (errors.length < MAX_FIELD_ERRORS) errors.push({ pointer, message });
  };
  const allowed = [...Object.keys(HEALTH_POLICY_LIMITS), "confidence", "action"];
  if (Object.keys(input).some((k) => !allowed.includes(k))) push("", `only ${allowed.join(", ")} are allowed`);
  const policy: HealthPolicy = { failureRateBasisPoints: 0, ...HEALTH_POLICY_DEFAULTS };
  for (const [field, { min, max }] of Object.entries(HEALTH_POLICY_LIMITS)) {
    const v = input[field];
    if (v === undefined) {
      if (field === "failureRateBasisPoints") push(`/${field}`, "is required");
    } else if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      push(`/${field}`, `must be an integer from ${min} to ${max}${field.endsWith("Ms") ? " (ms)" : ""}`);
    } else if (field === "windowMs" && (v as number) % MINUTE !== 0) {
      push(`/${field}`, "must be a whole number of minutes (a multiple of 60000 ms)");
    } else {
      policy[field as keyof typeof HEALTH_POLICY_LIMITS] = v as number;
    }
  }
  if (input.confidence !== undefined) {
    if (typeof input.confidence === "number" && Z_FOR_CONFIDENCE.has(input.confidence)) {
      policy.confidence = input.confidence as HealthConfidence;
    } else push("/confidence", "must be 0.9, 0.95 or 0.99");
  }
  if (input.action !== undefined) {
    if (HEALTH_ACTIONS.includes(input.action as HealthAction)) policy.action = input.action as HealthAction;
    else push("/action", `must be one of ${HEALTH_ACTIONS.join(", ")}`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, policy };
}

/** A percentage with 2 decimals, more if 2 would make a bound look equal to the threshold. */
function percent(basisPoints: number, threshold: number): string {
  let digits = 2;
  while (digits < 6 && basisPoints !== threshold && Number((basisPoints / 100).toFixed(digits)) === threshold / 100) {
    digits++;
  }
  return `${(basisPoints / 100).toFixed(digits)} %`;
}

/** An integer with thousands separators (5,000), whatever the runtime's locale. */
function group(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function plural(n: number, noun: string): string {
  return `${group(n)} ${noun}${n === 1 ? "" : "s"}`;
}

/** A duration for people: seconds under 2 min, minutes under 2 h, hours under 2 days, then days. */
function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
