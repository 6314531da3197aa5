import { BUCKET_COUNT, type RampStep, rampPercentage, validateRamp } from "./bucket";
import {
  type Attribute,
  type CompiledRule,
  type CompileError,
  compileRules,
  type DeviceProfile,
  matchRule,
  pushError,
  type RuleMatch,
  type RuleReason,
  ruleMemoKey,
} from "./rules";

/** Whose id keeps a device in its bucket: `auto` (the default) is the user id when present, else the device id. */
export type StickyKey = "auto" | "user" | "device";
/** A reference to a stored allowlist / denylist of user ids or of device ids. */
export interface ListRef {
  kind: "user" | "device";
  listId: string;
}
/** `basisPoints` (0..10000) applies until the first ramp step; then the ramp decides. */
export interface PercentageTarget {
  basisPoints: number;
  ramp: RampStep[] | null;
}
/** Half-open window [startsAt, endsAt) in ms since epoch, at most 7 days; at most `cap` devices admitted. */
export interface TimeWindow {
  startsAt: number;
  endsAt: number;
  cap: number;
}
/** The compiled canary targeting of one release. Built by compileTargeting at publish time. */
export interface Targeting {
  allowlists: ListRef[];
  denylists: ListRef[];
  rules: CompiledRule[];
  percentage: PercentageTarget | null;
  timeWindow: TimeWindow | null;
  stickyKey: StickyKey;
}
/** The time-window Durable Object's answer for this device, or "unknown" when not asked yet. */
export type Admission = "admitted" | "not_admitted" | "unknown";

export interface EvaluationInput {
  profile: DeviceProfile;
  ids: { userId: string | null; deviceId: string };
  /** ms since epoch. */
  now: number;
  /** Membership of `id` in the stored list `listId`. Should not throw; if it does, see evaluateTargeting. */
  inList: (listId: string, id: string) => boolean;
  /**
   * This device's bucket (0..9999) from bucket.ts over the sticky id, or null when it has none; or a
   * function computing it, called only when the percentage step is reached.
   */
  bucket: number | null | (() => number | null);
  admission: Admission;
  /**
   * Optional memo of rule outcomes for this profile (one per device check): a rule shared by several
   * releases is then evaluated once. Must only ever hold outcomes for `profile`.
   */
  ruleMatches?: Map<CompiledRule | string, RuleMatch>;
}

export type TargetingStep = "denylist" | "allowlist" | "filters" | "time_window" | "percentage" | "default";
export type TargetingReason =
  | "DENYLISTED"
  | "LIST_LOOKUP_FAILED"
  | "ALLOWLISTED"
  | "FILTER_FAILED"
  | "FILTERS_MATCHED"
  | "ADMITTED"
  | "ADMISSION_REQUIRED"
  | "ADMISSION_LOOKUP_REQUIRED"
  | "OUTSIDE_TIME_WINDOW"
  | "CAP_REACHED"
  | "IN_PERCENTAGE"
  | "OUTSIDE_PERCENTAGE"
  | "STICKY_KEY_MISSING"
  | "BUCKET_UNAVAILABLE"
  | "NOT_ALLOWLISTED"
  | "NO_AUDIENCE";
export interface TargetingResult {
  readonly decision: "in" | "out" | "needs_admission";
  readonly step: TargetingStep;
  readonly reason: TargetingReason;
  readonly failedRule?: { readonly index: number; readonly attribute: Attribute; readonly reason: RuleReason };
}

export const MAX_LISTS = 20;
export const MAX_LIST_ID_LENGTH = 128;
export const MAX_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Largest time-window cap: a closed window's whole admitted set must fit the isolate's admission
 * cache (100,000 ids by default, src/edge/admissions.ts), or every refused device would ask the
 * Durable Object on every check.
 */
export const MAX_CAP = 100_000;

// Shared frozen results: evaluation allocates only for a failed filter (which names the rule).
const cache = new Map<string, TargetingResult>();
function result(decision: TargetingResult["decision"], step: TargetingStep, reason: TargetingReason): TargetingResult {
  const key = `${decision}/${step}/${reason}`;
  let r = cache.get(key);
  if (r === undefined) {
    r = Object.freeze({ decision, step, reason });
    cache.set(key, r);
  }
  return r;
}
const DENYLISTED = result("out", "denylist", "DENYLISTED");
const LOOKUP_FAILED = result("out", "denylist", "LIST_LOOKUP_FAILED");
const ALLOWLISTED = result("in", "allowlist", "ALLOWLISTED");
const ADMITTED = result("in", "time_window", "ADMITTED");
const ADMISSION_REQUIRED = result("needs_admission", "time_window", "ADMISSION_REQUIRED");
const ADMISSION_LOOKUP_REQUIRED = result("needs_admission", "time_window", "ADMISSION_LOOKUP_REQUIRED");
const OUTSIDE_WINDOW = result("out", "time_window", "OUTSIDE_TIME_WINDOW");
const CAP_REACHED = result("out", "time_window", "CAP_REACHED");
const IN_PERCENTAGE = result("in", "percentage", "IN_PERCENTAGE");
const OUTSIDE_PERCENTAGE = result("out", "percentage", "OUTSIDE_PERCENTAGE");
const STICKY_KEY_MISSING = result("out", "percentage", "STICKY_KEY_MISSING");
const BUCKET_UNAVAILABLE = result("out", "percentage", "BUCKET_UNAVAILABLE");
const FILTERS_MATCHED = result("in", "filters", "FILTERS_MATCHED");
const NOT_ALLOWLISTED = result("out", "default", "NOT_ALLOWLISTED");
const NO_AUDIENCE = result("out", "default", "NO_AUDIENCE");
/** A failed filter without naming the rule (`detail` false: device answers, which show no reasons). */
const FILTER_FAILED = result("out", "filters", "FILTER_FAILED");

// FILTER_FAILED results name the rule: shared frozen objects per (compiled rule, position, reason),
// so the most common outcome allocates nothing either. (A compiled rule may be shared by several
// targetings, at different positions: see rules.ts.)
const failures = new WeakMap<CompiledRule, Map<string, TargetingResult>>();
function filterFailed(rule: CompiledRule, index: number, reason: RuleReason): TargetingResult {
  let byReason = failures.get(rule);
  if (byReason === undefined) {
    byReason = new Map();
    failures.set(rule, byReason);
  }
  const key = `${index}/${reason}`;
  let r = byReason.get(key);
  if (r === undefined) {
    r = Object.freeze({
      decision: "out",
      step: "filters",
      reason: "FILTER_FAILED",
      failedRule: Object.freeze({ index, attribute: rule.attribute, reason }),
    });
    byReason.set(key, r);
  }
  return r;
}

/** The id the bucket must be computed from, or null (sticky key "user" and no user id). */
export function stickyIdFor(t: Targeting, ids: EvaluationInput["ids"]): string | null {
  if (t.stickyKey === "auto") return ids.userId ?? ids.deviceId;
  return t.stickyKey === "user" ? ids.userId : ids.deviceId;
}

/** "hit", "miss", or "error" when `inList` threw. A null or empty id is never looked up. */
function listed(refs: readonly ListRef[], input: EvaluationInput): "hit" | "miss" | "error" {
  for (const ref of refs) {
    const id = ref.kind === "user" ? input.ids.userId : input.ids.deviceId;
    if (id === null || id === "") continue;
    try {
      if (input.inList(ref.listId, id)) return "hit";
    } catch {
      return "error";
    }
  }
  return "miss";
}

function timeWindowStep(w: TimeWindow, input: EvaluationInput): TargetingResult {
  if (input.admission === "admitted") return ADMITTED;
  if (input.now < w.startsAt) return OUTSIDE_WINDOW;
  if (input.now < w.endsAt) return input.admission === "unknown" ? ADMISSION_REQUIRED : CAP_REACHED;
  return input.admission === "unknown" ? ADMISSION_LOOKUP_REQUIRED : OUTSIDE_WINDOW;
}

function percentageStep(t: Targeting, p: PercentageTarget, input: EvaluationInput): TargetingResult {
  if (stickyIdFor(t, input.ids) === null) return STICKY_KEY_MISSING;
  const b = typeof input.bucket === "function" ? input.bucket() : input.bucket;
  if (b === null || !Number.isInteger(b) || b < 0 || b >= BUCKET_COUNT) return BUCKET_UNAVAILABLE;
  const bp = p.ramp === null ? p.basisPoints : rampPercentage(p.ramp, input.now, p.basisPoints);
  return b < bp ? IN_PERCENTAGE : OUTSIDE_PERCENTAGE;
}

/**
 * Canary targeting of one release for one device, in the fixed order of docs/targeting.md; the first decisive
 * step wins. Eligibility, preview and `full` releases are the caller's business.
 * 1. denylist: listed user or device → out (a throwing `inList` → out, LIST_LOOKUP_FAILED).
 * 2. allowlist: listed → in, skipping everything below (a throwing `inList` counts as not listed).
 * 3. filters: every rule must match, else out with `failedRule` (missing/bad attribute: no match).
 * 4. time window: "admitted" → in, even after `endsAt`. Otherwise before `startsAt` → not
 *    admitted; inside [startsAt, endsAt) with "unknown" → needs_admission (ask the Durable Object,
 *    which admits if under the cap, and call again); after `endsAt` with "unknown" →
 *    needs_admission with ADMISSION_LOOKUP_REQUIRED (look up only, admit nobody new);
 *    "not_admitted" inside the window → CAP_REACHED. When not admitted and a percentage is set,
 *    the percentage still decides (the window and the percentage are alternative ways in).
 * 5. percentage: in iff bucket < basis points at `now` (ramp-aware). Sticky key "user" without a
 *    user id, or no valid bucket → out.
 * 6. default: no window and no percentage: with allowlists → out (NOT_ALLOWLISTED); with rules
 *    only → in (FILTERS_MATCHED); with nothing → out (NO_AUDIENCE).
 * Total for well-typed input: never throws. Results are shared frozen objects (FILTER_FAILED ones
 * per compiled rule and reason); operators allocate little. With `detail` false (device answers) a
 * failed filter does not name its rule.
 */
export function evaluateTargeting(t: Targeting, input: EvaluationInput, detail = true): TargetingResult {
  const denied = listed(t.denylists, input);
  if (denied === "hit") return DENYLISTED;
  if (denied === "error") return LOOKUP_FAILED;
  if (listed(t.allowlists, input) === "hit") return ALLOWLISTED;
  const memo = input.ruleMatches;
  for (let i = 0; i < t.rules.length; i++) {
    const rule = t.rules[i];
    if (rule === undefined) continue;
    const memoKey = memo === undefined ? rule : ruleMemoKey(rule);
    let m = memo?.get(memoKey);
    if (m === undefined) {
      m = matchRule(rule, input.profile);
      memo?.set(memoKey, m);
    }
    if (!m.match) return detail ? filterFailed(rule, i, m.reason) : FILTER_FAILED;
  }
  if (t.timeWindow !== null) {
    const r = timeWindowStep(t.timeWindow, input);
    if (r.decision !== "out" || t.percentage === null) return r;
  }
  if (t.percentage !== null) return percentageStep(t, t.percentage, input);
  if (t.allowlists.length > 0) return NOT_ALLOWLISTED;
  return t.rules.length > 0 ? FILTERS_MATCHED : NO_AUDIENCE;
}

// ---- compile ----------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Obj, allowed: readonly string[], ptr: string, errors: CompileError[]): void {
  if (Object.keys(o).some((k) => !allowed.includes(k))) {
    pushError(errors, ptr, `only ${allowed.join(", ")} are allowed`);
  }
}

function compileLists(v: unknown, ptr: string, errors: CompileError[]): ListRef[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_LISTS) {
    pushError(errors, ptr, `must be an array of at most ${MAX_LISTS} lists`);
    return [];
  }
  const out: ListRef[] = [];
  v.forEach((ref: unknown, i) => {
    const p = `${ptr}/${i}`;
    if (!isObj(ref)) {
      pushError(errors, p, "must be an object with kind and listId");
      return;
    }
    onlyKeys(ref, ["kind", "listId"], p, errors);
    const { kind, listId } = ref;
    if (kind !== "user" && kind !== "device") pushError(errors, `${p}/kind`, "must be user or device");
    if (typeof listId !== "string" || listId.length === 0 || listId.length > MAX_LIST_ID_LENGTH) {
      pushError(errors, `${p}/listId`, `must be a string of 1 to ${MAX_LIST_ID_LENGTH} characters`);
    } else if (kind === "user" || kind === "device") out.push({ kind, listId });
  });
  return out;
}

function withPrefix(prefix: string, from: readonly CompileError[], errors: CompileError[]): void {
  for (const e of from) pushError(errors, prefix + e.pointer, e.message);
}

function compilePercentage(v: unknown, errors: CompileError[]): PercentageTarget | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) {
    pushError(errors, "/percentage", "must be an object with basisPoints and an optional ramp");
    return null;
  }
  onlyKeys(v, ["basisPoints", "ramp"], "/percentage", errors);
  const bp = v.basisPoints;
  if (!Number.isInteger(bp) || (bp as number) < 0 || (bp as number) > BUCKET_COUNT) {
    pushError(errors, "/percentage/basisPoints", "must be an integer from 0 to 10000");
    return null;
  }
  if (v.ramp === undefined || v.ramp === null) return { basisPoints: bp as number, ramp: null };
  const ramp = validateRamp(v.ramp, bp as number);
  if (!ramp.ok) {
    withPrefix("/percentage/ramp", ramp.errors, errors);
    return null;
  }
  return { basisPoints: bp as number, ramp: ramp.steps };
}

function compileTimeWindow(v: unknown, errors: CompileError[]): TimeWindow | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) {
    pushError(errors, "/timeWindow", "must be an object with startsAt, endsAt and cap");
    return null;
  }
  onlyKeys(v, ["startsAt", "endsAt", "cap"], "/timeWindow", errors);
  const { startsAt, endsAt, cap } = v;
  const before = errors.length;
  if (!Number.isSafeInteger(startsAt) || (startsAt as number) < 0) {
    pushError(errors, "/timeWindow/startsAt", "must be a timestamp in ms");
  }
  if (!Number.isSafeInteger(endsAt)) pushError(errors, "/timeWindow/endsAt", "must be a timestamp in ms");
  else if (typeof startsAt === "number" && (endsAt as number) <= startsAt) {
    pushError(errors, "/timeWindow/endsAt", "must be after startsAt");
  } else if (typeof startsAt === "number" && (endsAt as number) - startsAt > MAX_WINDOW_MS) {
    pushError(errors, "/timeWindow/endsAt", "the window may last at most 7 days");
  }
  if (!Number.isInteger(cap) || (cap as number) < 1 || (cap as number) > MAX_CAP) {
    pushError(errors, "/timeWindow/cap", `must be an integer from 1 to ${MAX_CAP}`);
  }
  if (errors.length !== before) return null;
  return { startsAt: startsAt as number, endsAt: endsAt as number, cap: cap as number };
}

/**
 * Validates and compiles a release's targeting JSON:
 * `{ allowlists?, denylists?: {kind, listId}[], rules?: Rule[], percentage?: {basisPoints, ramp?} | null,
 *    timeWindow?: {startsAt, endsAt, cap} | null, stickyKey?: "auto" | "user" | "device" (default "auto") }`.
 * Error pointers are absolute in that document (`/rules/0/operator`, `/timeWindow/endsAt`); messages
 * never quote input. A targeting must admit someone: an allowlist, rules, a percentage or a window.
 */
export function compileTargeting(
  input: unknown,
): { ok: true; targeting: Targeting } | { ok: false; errors: CompileError[] } {
  if (!isObj(input)) return { ok: false, errors: [{ pointer: "", message: "must be an object" }] };
  const errors: CompileError[] = [];
  onlyKeys(input, ["allowlists", "denylists", "rules", "percentage", "timeWindow", "stickyKey"], "", errors);
  const allowlists = compileLists(input.allowlists, "/allowlists", errors);
  const denylists = compileLists(input.denylists, "/denylists", errors);
  let rules: CompiledRule[] = [];
  if (input.rules !== undefined) {
    const compiled = compileRules(input.rules);
    if (compiled.ok) rules = compiled.rules;
    else withPrefix("/rules", compiled.errors, errors);
  }
  const percentage = compilePercentage(input.percentage, errors);
  const timeWindow = compileTimeWindow(input.timeWindow, errors);
  const sticky = input.stickyKey ?? "auto";
  if (sticky !== "auto" && sticky !== "user" && sticky !== "device") {
    pushError(errors, "/stickyKey", "must be auto, user or device");
  }
  const admitsSomeone = allowlists.length > 0 || rules.length > 0 || percentage !== null || timeWindow !== null;
  if (errors.length === 0 && !admitsSomeone) {
    pushError(errors, "", "needs an allowlist, rules, a percentage or a time window");
  }
  if (errors.length > 0) return { ok: false, errors };
  const stickyKey: StickyKey = sticky === "user" ? "user" : sticky === "device" ? "device" : "auto";
  return { ok: true, targeting: { allowlists, denylists, rules, percentage, timeWindow, stickyKey } };
}
