// Over 300 lines: the operator table with its compile-time validation, the loose-version
// comparison it relies on and the regex compiler and budgets (shared with allowlist.ts) live
// together. If this grows further, the regex part and the version helpers are the parts to move
// into files of their own.
import { RE2JS, RE2JSSyntaxException } from "re2js";
import semver from "semver";
import { MAX_FIELD_ERRORS } from "../errors";
import { memo } from "../memo";
import { isValidRange } from "../semver";

export type BuiltinAttribute =
  | "city"
  | "region"
  | "country"
  | "brand"
  | "model"
  | "network"
  | "osName"
  | "osVersion"
  | "appVersion"
  | "language";
/** A built-in attribute, or `custom:<name>` (name: 1..64 of `A-Z a-z 0-9 _ . -`) read from `profile.custom`. */
export type Attribute = BuiltinAttribute | `custom:${string}`;
export type Operator = "include" | "exclude" | "inRange" | "outOfRange" | "semver" | "prefix" | "regex";

/** What the check path knows about a device. null (or "") means "not sent / unknown". */
export interface DeviceProfile {
  city: string | null;
  region: string | null;
  country: string | null;
  brand: string | null;
  model: string | null;
  network: string | null;
  osName: string | null;
  osVersion: string | null;
  appVersion: string | null;
  language: string | null;
  custom: Record<string, string>;
}

/** A range bound: a number (numeric range) or a loose version string (`8`, `8.2`, `8.2.1-beta.1`). */
export type RangeBound = number | string;
/** `min` inclusive, `max` exclusive; either may be omitted (unbounded), not both. */
export interface RangeValue {
  min?: RangeBound;
  max?: RangeBound;
}
/** A rule as authored (JSON). `values` holds strings, except for inRange/outOfRange (RangeValue). */
export interface Rule {
  attribute: Attribute;
  operator: Operator;
  values: readonly (string | RangeValue)[];
}
/** A validation failure: `pointer` is a JSON pointer into the input; `message` never quotes input. */
export interface CompileError {
  pointer: string;
  message: string;
}
export type RuleReason = "MATCHED" | "ATTRIBUTE_MISSING" | "BAD_VALUE" | "NOT_MATCHED";
export interface RuleMatch {
  readonly match: boolean;
  readonly reason: RuleReason;
}
type Outcome = "MATCHED" | "NOT_MATCHED" | "BAD_VALUE";
type Test = (value: string) => Outcome;

/** A validated rule with its matcher prebuilt. Holds closures and compiled patterns: keep `rule` to re-serialize. */
export interface CompiledRule {
  readonly attribute: Attribute;
  readonly operator: Operator;
  /** The normalized source rule. */
  readonly rule: Rule;
  readonly read: (profile: DeviceProfile) => string | null;
  readonly test: Test;
  /** Summed regex cost of its patterns (see REGEX_COST_UNIT); 0 for other operators. */
  readonly regexCost: number;
  /**
   * The rule's identity: JSON of the normalized rule. Equal keys test the same thing, so one check
   * evaluates each distinct key once whatever releases share it (a regex rule's memo is keyed by it,
   * not by the object, so the regex budget can count distinct rules: see ruleMemoKey).
   */
  readonly key: string;
}

/**
 * The key of a rule in a check's memo of rule outcomes (EvaluationInput.ruleMatches): regex rules by
 * their content, so identical regex rules of different releases are evaluated once per check even
 * when they are not one shared object (the per-target regex budget counts each distinct rule once);
 * other rules by identity, which costs no string hashing.
 */
export function ruleMemoKey(rule: CompiledRule): CompiledRule | string {
  return rule.regexCost > 0 ? rule.key : rule;
}

export const MAX_RULES = 50;
export const MAX_VALUES_PER_RULE = 1000;
export const MAX_VALUE_LENGTH = 256;
export const MAX_PATTERN_LENGTH = 256;
/** Longest attribute value a regex is run against; longer values are BAD_VALUE. */
export const MAX_REGEX_SUBJECT_LENGTH = 128;

const present = (v: string | null) => (typeof v === "string" && v !== "" ? v : null);
// One reader per attribute with a static property access: a shared `p[key]` closure makes the
// property load megamorphic on the hot path. Its keys are the built-in attributes.
const BUILTIN_READERS: Readonly<Record<BuiltinAttribute, (p: DeviceProfile) => string | null>> = {
  city: (p) => present(p.city),
  region: (p) => present(p.region),
  country: (p) => present(p.country),
  brand: (p) => present(p.brand),
  model: (p) => present(p.model),
  network: (p) => present(p.network),
  osName: (p) => present(p.osName),
  osVersion: (p) => present(p.osVersion),
  appVersion: (p) => present(p.appVersion),
  language: (p) => present(p.language),
};
const BUILTIN: ReadonlySet<string> = new Set(Object.keys(BUILTIN_READERS));
/** Attributes that ordered operators (inRange, outOfRange, semver) may use. */
const ORDERED: ReadonlySet<string> = new Set<BuiltinAttribute>(["osVersion", "appVersion"]);
/** Attributes compared case-insensitively by include, exclude, prefix and regex: the unordered built-ins. */
const CASE_INSENSITIVE: ReadonlySet<string> = new Set([...BUILTIN].filter((a) => !ORDERED.has(a)));
const CUSTOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Appends an error unless MAX_FIELD_ERRORS is reached (a huge bad input must not make a huge answer). */
export function pushError(errors: CompileError[], pointer: string, message: string): void {
  if (errors.length < MAX_FIELD_ERRORS) errors.push({ pointer, message });
}

// ---- versions and numbers -------------------------------------------------------------------

interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string | null;
}
const IDENT = "(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)";
const LOOSE_VERSION = new RegExp(
  `^v?(\\d{1,9})(?:\\.(\\d{1,9}))?(?:\\.(\\d{1,9}))?(?:\\.\\d{1,9})?(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+[0-9A-Za-z.-]+)?$`,
);
const DECIMAL = /^[-+]?\d{1,15}(?:\.\d{1,15})?$/;

/** `8`, `8.2`, `v8.2.1`, `8.2.1.4501` (fourth part ignored), `8.2.1-beta.1`; anything else is null. */
function parseLooseVersionUncached(input: string): Version | null {
  if (input.length > 128) return null;
  const m = LOOSE_VERSION.exec(input);
  if (m === null) return null;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0), pre: m[4] ?? null };
}

// Every ordered rule of every release parses the same osVersion / appVersion of a device: memoized
// (results are never mutated), one parse per distinct value.
const parseLooseVersion = memo(parseLooseVersionUncached, 4096);

function compareVersion(a: Version, b: Version): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  if (a.pre === b.pre) return 0;
  if (a.pre === null) return 1;
  if (b.pre === null) return -1;
  return comparePrerelease(a.pre, b.pre);
}

const NUMERIC = /^\d+$/;

/** SemVer 2.0.0 §11 precedence of two prerelease strings (as semver.compare of `0.0.0-a`, `0.0.0-b`). */
export function comparePrerelease(a: string, b: string): number {
  if (a === b) return 0;
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < x.length && i < y.length; i++) {
    const p = x[i] as string;
    const q = y[i] as string;
    if (p === q) continue;
    const pn = NUMERIC.test(p);
    const qn = NUMERIC.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return x.length - y.length;
}

// Case-insensitive rules lower-case the same few attribute values (brand, model, network...) for
// every release: the memo hands back one lower-cased string per value, whose hash V8 then computes
// once instead of on every Set lookup.
const lower = memo((v) => v.toLowerCase(), 4096);

function parseDecimal(input: string): number | null {
  return DECIMAL.test(input) ? Number(input) : null;
}

// ---- regexes ----------------------------------------------------------------------------------

/**
 * Regex patterns (rules and list entries) run on re2js, a pure-JavaScript port of RE2: matching
 * takes time linear in the subject, whatever the pattern (no backtracking blow-up, so the old
 * backtracking heuristic is gone). RE2 syntax is not JavaScript's: no lookahead or lookbehind, no
 * backreferences, repetition counts at most 1000; a pattern RE2 cannot compile is refused.
 *
 * Cost: a pattern's regex cost is the instruction count of its compiled RE2 program
 * (`RE2JS.programSize()`), plus one per 16 ranges of every character-class instruction (a Unicode
 * class such as `\p{L}` holds 685 ranges: it costs 43, as matching a character against it is a
 * binary search and building it takes a fraction of a millisecond). Whatever engine re2js picks
 * (lazy DFA, one-pass, bit-state backtracker, Pike NFA), the work per subject character is bounded
 * by the instructions: each is visited at most once per position. A check's worst-case regex time
 * is therefore about (sum of the costs it may evaluate) × MAX_REGEX_SUBJECT_LENGTH × a constant;
 * the budgets below were chosen by measurement (`node bench/core.mjs`, line "regex worst_check_ms")
 * so that the worst accepted configuration stays under 20 ms of CPU per check.
 */
export const REGEX_COST_UNIT = "one instruction of the compiled RE2 program (class instructions: +1 per 16 ranges)";
/** Largest cost of one pattern (about 240 characters of literal text, or `[a-z]{1,120}`). */
export const MAX_PATTERN_REGEX_COST = 250;
/** Largest summed cost of the patterns of one `regex` rule. */
export const MAX_RULE_REGEX_COST = 500;
/** Largest regex cost of one release: its rules' patterns plus the regex entries of the lists it refers to. */
export const MAX_RELEASE_REGEX_COST = 1000;
/**
 * Largest regex cost of one (app, environment): what one check may evaluate. Every canary release's
 * rules (each release counted on its own: identical rules of different releases are shared by a
 * check only when the isolate's intern table holds them, so sharing is not guaranteed) plus every
 * list those releases refer to (each list once: a check looks a list up once).
 */
export const MAX_TARGET_REGEX_COST = 2000;
/**
 * Memory of each pattern's lazy DFA. re2js defaults to 8 MiB per pattern, which adversarial subjects
 * fill (measured 5 MB per pattern after 300 checks): a small cache keeps the DFA for patterns with few
 * states and makes the others give up early and use the bit-state backtracker or the NFA, which are
 * linear too and measured faster than rebuilding DFA states on every check.
 */
const REGEX_DFA_MEMORY = 4096;

/** A compiled pattern: an unanchored search, stateless (safe to share). */
export interface SafeRegex {
  test(subject: string): boolean;
}

const SYNTAX: Readonly<Record<string, string>> = {
  "invalid or unsupported Perl syntax":
    "uses syntax RE2 does not support (lookahead, lookbehind or other Perl-only groups)",
  "invalid escape sequence":
    "has an escape RE2 does not support (backreferences such as \\1, \\cX, \\uXXXX: use \\x{XXXX})",
  "invalid repeat count": `has repetition bounds that are out of order or over 1000`,
  "invalid nested repetition operator": "has a repetition of a repetition such as a** (RE2 refuses it)",
  "missing argument to repetition operator": "has a repetition operator with nothing to repeat",
  "missing closing )": "has an unbalanced parenthesis",
  "unexpected )": "has an unbalanced parenthesis",
  "missing closing ]": "has an unclosed character class",
  "invalid character class range": "has a character class range that is out of order",
  "trailing backslash at end of expression": "ends with a backslash",
  "invalid named capture": "has an invalid group name",
  "duplicate capture group name": "names two groups alike",
  "expression nests too deeply": "nests too deeply",
  "expression too large": "is too large",
};

/**
 * Compiles one pattern for the regex operator or a list entry: refuses an empty pattern, one longer
 * than MAX_PATTERN_LENGTH, one RE2 cannot compile (the message names why, never quoting the
 * input) and one whose cost is over MAX_PATTERN_REGEX_COST. `caseInsensitive` sets RE2's
 * CASE_INSENSITIVE flag.
 */
export function compileRegex(
  pattern: string,
  caseInsensitive: boolean,
): { ok: true; regex: SafeRegex; cost: number } | { ok: false; message: string } {
  if (pattern.length === 0) return { ok: false, message: "pattern is empty" };
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return { ok: false, message: `pattern is longer than ${MAX_PATTERN_LENGTH} characters` };
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (e) {
    const why = e instanceof RE2JSSyntaxException && Object.hasOwn(SYNTAX, e.error) ? SYNTAX[e.error] : undefined;
    return { ok: false, message: `pattern is not valid RE2 syntax: it ${why ?? "cannot be compiled"}` };
  }
  const cost = programCost(re);
  if (cost > MAX_PATTERN_REGEX_COST) {
    return {
      ok: false,
      message: `pattern costs ${cost} regex units, over the limit of ${MAX_PATTERN_REGEX_COST} per pattern: make it shorter or use narrower repetitions`,
    };
  }
  limitDfaMemory(re);
  return { ok: true, regex: re, cost };
}

/** See REGEX_COST_UNIT. re2js types its program's instructions loosely: only `runes` is read. */
function programCost(re: RE2JS): number {
  let cost = re.programSize();
  const insts: readonly { runes?: { length?: unknown } }[] = re.re2().prog.inst;
  for (const inst of insts) {
    const n = inst.runes?.length; // an Int32Array of [lo, hi] pairs
    if (typeof n === "number") cost += Math.floor(n / 2 / CLASS_RANGES_PER_UNIT);
  }
  return cost;
}
const CLASS_RANGES_PER_UNIT = 16;

/** Caps the lazy DFA's memory of a compiled pattern (see REGEX_DFA_MEMORY). */
function limitDfaMemory(re: RE2JS): void {
  const dfa = re.re2().dfa;
  dfa.maxMem = REGEX_DFA_MEMORY;
  dfa.stateBudget = REGEX_DFA_MEMORY;
  dfa.memBudget = REGEX_DFA_MEMORY;
}

// ---- the operator table ---------------------------------------------------------------------

interface Ctx {
  ci: boolean;
  ptr: string;
  errors: CompileError[];
}
interface OperatorSpec {
  /** Ordered operators need a version-like or numeric attribute (osVersion, appVersion, custom:*). */
  ordered: boolean;
  compile(values: readonly unknown[], ctx: Ctx): { test: Test; values: Rule["values"]; regexCost?: number } | null;
}

function strings(values: readonly unknown[], ctx: Ctx): string[] | null {
  const out: string[] = [];
  values.forEach((v, i) => {
    if (typeof v !== "string" || v.length === 0 || v.length > MAX_VALUE_LENGTH) {
      pushError(ctx.errors, `${ctx.ptr}/${i}`, `must be a string of 1 to ${MAX_VALUE_LENGTH} characters`);
    } else out.push(v);
  });
  return out.length === values.length ? out : null;
}

function membership(negate: boolean): OperatorSpec["compile"] {
  return (values, ctx) => {
    const list = strings(values, ctx);
    if (list === null) return null;
    const set = new Set(ctx.ci ? list.map((v) => v.toLowerCase()) : list);
    const ci = ctx.ci;
    const test: Test = (v) => (set.has(ci ? lower(v) : v) !== negate ? "MATCHED" : "NOT_MATCHED");
    return { test, values: list };
  };
}

interface Bounds {
  min: number | Version | null;
  max: number | Version | null;
}

function ranges(negate: boolean): OperatorSpec["compile"] {
  return (values, ctx) => {
    const compiled: Bounds[] = [];
    let kind: "number" | "version" | null = null;
    values.forEach((v, i) => {
      const b = compileRange(v, `${ctx.ptr}/${i}`, ctx.errors);
      if (b === null) return;
      const k = typeof (b.min ?? b.max) === "number" ? "number" : "version";
      if (kind !== null && kind !== k) {
        pushError(ctx.errors, `${ctx.ptr}/${i}`, "all ranges of a rule must be numeric or all versions");
        return;
      }
      kind = k;
      compiled.push(b);
    });
    if (compiled.length !== values.length) return null;
    const parse: (v: string) => number | Version | null = kind === "number" ? parseDecimal : parseLooseVersion;
    const test: Test = (raw) => {
      const v = parse(raw);
      if (v === null) return "BAD_VALUE";
      let inside = false;
      for (const b of compiled) {
        if (inBounds(v, b)) {
          inside = true;
          break;
        }
      }
      return inside !== negate ? "MATCHED" : "NOT_MATCHED";
    };
    return { test, values: values as RangeValue[] };
  };
}

function cmp(a: number | Version, b: number | Version): number {
  return typeof a === "number" ? a - (b as number) : compareVersion(a, b as Version);
}

function inBounds(v: number | Version, b: Bounds): boolean {
  return (b.min === null || cmp(v, b.min) >= 0) && (b.max === null || cmp(v, b.max) < 0);
}

function compileBound(v: unknown, ptr: string, errors: CompileError[]): number | Version | null | undefined {
  if (v === undefined) return null;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  const parsed = typeof v === "string" ? parseLooseVersion(v) : null;
  if (parsed === null) pushError(errors, ptr, "must be a finite number or a version such as 8.2.1");
  return parsed ?? undefined;
}

function compileRange(v: unknown, ptr: string, errors: CompileError[]): Bounds | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    pushError(errors, ptr, "must be an object with min and/or max");
    return null;
  }
  const r = v as Record<string, unknown>;
  if (Object.keys(r).some((k) => k !== "min" && k !== "max")) pushError(errors, ptr, "only min and max are allowed");
  const min = compileBound(r.min, `${ptr}/min`, errors);
  const max = compileBound(r.max, `${ptr}/max`, errors);
  if (min === undefined || max === undefined) return null;
  if (min === null && max === null) {
    pushError(errors, ptr, "needs min, max or both");
    return null;
  }
  if (min !== null && max !== null) {
    if (typeof min !== typeof max) pushError(errors, ptr, "min and max must both be numbers or both versions");
    else if (cmp(min, max) >= 0) pushError(errors, `${ptr}/max`, "must be greater than min");
    else return { min, max };
    return null;
  }
  return { min, max };
}

/** One comparator of a parsed range; `v` null means "any version". */
interface Comparator {
  op: string;
  v: Version | null;
}

/**
 * Parses a range once at compile time (`includePrerelease`, as ../semver.ts `inRange`) into
 * comparator sets evaluated with compareVersion: semver's own `Range.test` re-parses the version
 * on every call, which costs microseconds on the hot path.
 */
function semverRange(expr: string): Comparator[][] | null {
  try {
    const range = new semver.Range(expr, { includePrerelease: true });
    return range.set.map((set) =>
      set.map((c) => {
        const sv = c.semver instanceof semver.SemVer ? c.semver : null;
        const pre = sv === null || sv.prerelease.length === 0 ? null : sv.prerelease.join(".");
        return { op: c.operator, v: sv === null ? null : { major: sv.major, minor: sv.minor, patch: sv.patch, pre } };
      }),
    );
  } catch {
    return null;
  }
}

function satisfies(v: Version, c: Comparator): boolean {
  if (c.v === null) return true;
  const d = compareVersion(v, c.v);
  if (c.op === "<") return d < 0;
  if (c.op === "<=") return d <= 0;
  if (c.op === ">") return d > 0;
  if (c.op === ">=") return d >= 0;
  return d === 0;
}

function satisfiesAll(v: Version, set: readonly Comparator[]): boolean {
  for (const c of set) if (!satisfies(v, c)) return false;
  return true;
}

const semverRanges: OperatorSpec["compile"] = (values, ctx) => {
  const list = strings(values, ctx);
  if (list === null) return null;
  const compiled: Comparator[][][] = [];
  list.forEach((expr, i) => {
    const range = isValidRange(expr) ? semverRange(expr) : null;
    if (range !== null) compiled.push(range);
    else pushError(ctx.errors, `${ctx.ptr}/${i}`, "must be a semver range such as >=8.0.0 <9");
  });
  if (compiled.length !== list.length) return null;
  const test: Test = (raw) => {
    const v = parseLooseVersion(raw);
    if (v === null) return "BAD_VALUE";
    for (const range of compiled) {
      for (const set of range) if (satisfiesAll(v, set)) return "MATCHED";
    }
    return "NOT_MATCHED";
  };
  return { test, values: list };
};

const prefixes: OperatorSpec["compile"] = (values, ctx) => {
  const list = strings(values, ctx);
  if (list === null) return null;
  const ci = ctx.ci;
  const norm = ci ? list.map((v) => v.toLowerCase()) : list;
  const test: Test = (raw) => {
    const v = ci ? lower(raw) : raw;
    for (const p of norm) if (v.startsWith(p)) return "MATCHED";
    return "NOT_MATCHED";
  };
  return { test, values: list };
};

const regexes: OperatorSpec["compile"] = (values, ctx) => {
  const list = strings(values, ctx);
  if (list === null) return null;
  const compiled: SafeRegex[] = [];
  let regexCost = 0;
  // Compiling costs time in proportion to a pattern's program: stop as soon as the answer is known
  // (the rule is over its budget, or the request has as many errors as it will report), so a
  // refused request does bounded work however many patterns it sends (found by review: 5,000
  // `x{1000}` values took 6 s to refuse).
  for (let i = 0; i < list.length; i++) {
    if (ctx.errors.length >= MAX_FIELD_ERRORS) return null;
    const re = compileRegex(list[i] as string, ctx.ci);
    if (!re.ok) {
      pushError(ctx.errors, `${ctx.ptr}/${i}`, re.message);
      continue;
    }
    compiled.push(re.regex);
    regexCost += re.cost;
    if (regexCost > MAX_RULE_REGEX_COST) {
      pushError(
        ctx.errors,
        ctx.ptr,
        `the rule's patterns cost more than ${MAX_RULE_REGEX_COST} regex units, the limit per rule`,
      );
      return null;
    }
  }
  if (compiled.length !== list.length) return null;
  if (regexCost > MAX_RULE_REGEX_COST) {
    return null;
  }
  const id = `${++regexRuleIds}\u0000`;
  const test: Test = (v) => {
    if (v.length > MAX_REGEX_SUBJECT_LENGTH) return "BAD_VALUE";
    const key = id + v;
    const known = regexOutcomes.get(key);
    if (known !== undefined) return known;
    let outcome: Outcome = "NOT_MATCHED";
    for (const re of compiled) {
      if (re.test(v)) {
        outcome = "MATCHED";
        break;
      }
    }
    if (regexOutcomes.size >= MAX_REGEX_OUTCOMES) regexOutcomes.clear();
    regexOutcomes.set(key, outcome);
    return outcome;
  };
  return { test, values: list, regexCost };
};

// Outcomes of regex rules by (rule, value), shared by the isolate's checks: attribute values repeat
// across devices (a few languages, models, OS versions), and a cached outcome costs a map lookup where
// running re2js touches a large, often cold, engine. A pure function of its key, so never stale;
// bounded (at most MAX_REGEX_OUTCOMES entries of values ≤ 128 characters: about 1.5 MB), cleared
// whole when full. Misses run the patterns, so the per-check bound of the regex budget still holds.
const MAX_REGEX_OUTCOMES = 4096;
const regexOutcomes = new Map<string, Outcome>();
let regexRuleIds = 0;

/** The one operator table. `exclude`/`outOfRange` match when the value is present and not listed. */
const OPERATORS: Readonly<Record<Operator, OperatorSpec>> = {
  include: { ordered: false, compile: membership(false) },
  exclude: { ordered: false, compile: membership(true) },
  inRange: { ordered: true, compile: ranges(false) },
  outOfRange: { ordered: true, compile: ranges(true) },
  semver: { ordered: true, compile: semverRanges },
  prefix: { ordered: false, compile: prefixes },
  regex: { ordered: false, compile: regexes },
};

function isOperator(v: unknown): v is Operator {
  return typeof v === "string" && Object.hasOwn(OPERATORS, v);
}

function reader(attribute: Attribute): (p: DeviceProfile) => string | null {
  if (attribute.startsWith("custom:")) {
    const name = attribute.slice(7);
    return (p) => {
      const v = Object.hasOwn(p.custom, name) ? p.custom[name] : undefined;
      return typeof v === "string" && v !== "" ? v : null;
    };
  }
  return BUILTIN_READERS[attribute as BuiltinAttribute];
}

function compileRule(input: unknown, ptr: string, errors: CompileError[]): CompiledRule | null {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    pushError(errors, ptr, "must be an object with attribute, operator and values");
    return null;
  }
  const r = input as Record<string, unknown>;
  const before = errors.length;
  if (Object.keys(r).some((k) => k !== "attribute" && k !== "operator" && k !== "values")) {
    pushError(errors, ptr, "only attribute, operator and values are allowed");
  }
  const attr = r.attribute;
  const custom = typeof attr === "string" && attr.startsWith("custom:") && CUSTOM_NAME.test(attr.slice(7));
  if (typeof attr !== "string" || !(BUILTIN.has(attr) || custom)) {
    pushError(errors, `${ptr}/attribute`, "must be a known attribute or custom:<name>");
  }
  const op = r.operator;
  if (!isOperator(op)) pushError(errors, `${ptr}/operator`, "must be one of the known operators");
  else if (OPERATORS[op].ordered && typeof attr === "string" && BUILTIN.has(attr) && !ORDERED.has(attr)) {
    pushError(errors, `${ptr}/operator`, "needs a version or numeric attribute (osVersion, appVersion, custom)");
  }
  const values = r.values;
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_VALUES_PER_RULE) {
    pushError(errors, `${ptr}/values`, `must be an array of 1 to ${MAX_VALUES_PER_RULE} values`);
    return null;
  }
  if (errors.length !== before || !isOperator(op)) return null;
  const attribute = attr as Attribute;
  const ctx = { ci: CASE_INSENSITIVE.has(attribute), ptr: `${ptr}/values`, errors };
  const compiled = OPERATORS[op].compile(values, ctx);
  if (compiled === null) return null;
  const rule: Rule = { attribute, operator: op, values: compiled.values };
  const key = JSON.stringify(rule);
  const shared = key.length <= MAX_INTERNED_RULE_LENGTH ? interned.get(key) : undefined;
  if (shared !== undefined) return shared;
  const fresh: CompiledRule = {
    attribute,
    operator: op,
    rule,
    read: reader(attribute),
    test: compiled.test,
    regexCost: compiled.regexCost ?? 0,
    key,
  };
  if (key.length <= MAX_INTERNED_RULE_LENGTH) {
    if (interned.size >= MAX_INTERNED_RULES) interned.clear();
    interned.set(key, fresh);
  }
  return fresh;
}

// Identical rules compile to one shared CompiledRule (they are immutable): releases of an app tend
// to reuse the same rules, and one check then evaluates each distinct rule once (see
// EvaluationInput.ruleMatches). Bounded in count and in rule size, so the table stays small.
const MAX_INTERNED_RULES = 1000;
const MAX_INTERNED_RULE_LENGTH = 2048;
const interned = new Map<string, CompiledRule>();

/**
 * Validates and compiles authored rules (an array of at most MAX_RULES, whose regex patterns cost
 * at most MAX_RELEASE_REGEX_COST together). Error pointers are relative to the array
 * (`/0/values/1`). Call when something is published, never per request.
 */
export function compileRules(
  input: unknown,
): { ok: true; rules: CompiledRule[] } | { ok: false; errors: CompileError[] } {
  const errors: CompileError[] = [];
  if (!Array.isArray(input) || input.length > MAX_RULES) {
    return { ok: false, errors: [{ pointer: "", message: `must be an array of at most ${MAX_RULES} rules` }] };
  }
  const rules: CompiledRule[] = [];
  let cost = 0;
  for (let i = 0; i < input.length && errors.length < MAX_FIELD_ERRORS; i++) {
    const c = compileRule(input[i], `/${i}`, errors);
    if (c === null) continue;
    rules.push(c);
    cost += c.regexCost;
    // Past the release budget the answer is known: compile no further patterns.
    if (cost > MAX_RELEASE_REGEX_COST && errors.length === 0) {
      const message = `the rules' patterns cost more than ${MAX_RELEASE_REGEX_COST} regex units, the limit per release`;
      return { ok: false, errors: [{ pointer: "", message }] };
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, rules };
}

/** Summed regex cost of compiled rules (each counted, shared or not). */
export function rulesRegexCost(rules: readonly CompiledRule[]): number {
  let cost = 0;
  for (const r of rules) cost += r.regexCost;
  return cost;
}

const RESULTS: Readonly<Record<RuleReason, RuleMatch>> = {
  MATCHED: Object.freeze({ match: true, reason: "MATCHED" }),
  NOT_MATCHED: Object.freeze({ match: false, reason: "NOT_MATCHED" }),
  BAD_VALUE: Object.freeze({ match: false, reason: "BAD_VALUE" }),
  ATTRIBUTE_MISSING: Object.freeze({ match: false, reason: "ATTRIBUTE_MISSING" }),
};

/**
 * Evaluates one compiled rule. Total and fail-closed: a missing (null, "" or absent) attribute is
 * ATTRIBUTE_MISSING and an unparsable value BAD_VALUE, both "no match" — also for exclude and
 * outOfRange. Returns shared frozen objects: allocation-free apart from the operator's own work.
 */
export function matchRule(rule: CompiledRule, profile: DeviceProfile): RuleMatch {
  try {
    const value = rule.read(profile);
    return value === null ? RESULTS.ATTRIBUTE_MISSING : RESULTS[rule.test(value)];
  } catch {
    // Unreachable for well-typed input; a malformed profile (say, custom: null) must not throw.
    return RESULTS.BAD_VALUE;
  }
}
