import { type CompileError, compileRegex, MAX_REGEX_SUBJECT_LENGTH, pushError, type SafeRegex } from "./rules";

export type AllowlistEntryKind = "exact" | "regex";
/** One authored entry of an allowlist (or denylist): a user or device id, or a pattern over ids. */
export interface AllowlistEntry {
  value: string;
  kind: AllowlistEntryKind;
}

/** Membership test over one compiled list. `has` is total: it never throws. */
export interface AllowlistMatcher {
  /** True when `id` equals an exact entry (case-sensitive) or a regex entry matches it. */
  has(id: string): boolean;
  readonly exactCount: number;
  readonly regexCount: number;
  /** Summed regex cost of the regex entries (see REGEX_COST_UNIT in rules.ts). */
  readonly regexCost: number;
}

export const MAX_EXACT_ENTRIES = 1_000_000;
export const MAX_REGEX_ENTRIES = 50;
export const MAX_ENTRY_LENGTH = 256;
/**
 * Largest summed regex cost of one list's regex entries (see REGEX_COST_UNIT in rules.ts); a check
 * looks each list up once, against one id. At most MAX_TARGET_REGEX_COST, or the list could not be used.
 */
export const MAX_LIST_REGEX_COST = 500;

/**
 * Control characters (Cc: C0 with tab — CR and LF end lines before this is asked —, DEL, C1), format
 * characters (Cf: the bidirectional controls ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI,
 * zero-width characters, a BOM inside an entry, tag characters), line and paragraph separators
 * (Zl, Zp), private-use (Co) and unassigned or noncharacter code points (Cn): an id holding one is
 * either a mistake or meant to make the list read differently from what it holds.
 */
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/u;

/** Why an entry's text is refused (a FORBIDDEN_CHARACTER), or null. */
export function entryCharacterProblem(value: string): string | null {
  return FORBIDDEN_CHARACTER.test(value)
    ? "must not contain control characters (tab included), invisible or bidirectional formatting characters, line or paragraph separators, private-use or unassigned characters"
    : null;
}

/**
 * Validates and compiles a list. Exact entries go into a Set (O(n) to build, O(1) to look up;
 * duplicates collapse); regex entries compile with RE2 as rule patterns do (rules.ts
 * compileRegex), are case-sensitive and unanchored (write `^…$`), at most MAX_REGEX_ENTRIES costing
 * at most MAX_LIST_REGEX_COST together, and are tried only after the exact lookup misses and only
 * against ids up to MAX_REGEX_SUBJECT_LENGTH characters. No entry may hold a FORBIDDEN_CHARACTER.
 * Error pointers are relative to the entries array
 * (`/3/value`); at most MAX_FIELD_ERRORS.
 */
export function compileAllowlistEntries(
  entries: readonly AllowlistEntry[],
): { ok: true; matcher: AllowlistMatcher } | { ok: false; errors: CompileError[] } {
  const errors: CompileError[] = [];
  if (!Array.isArray(entries) || entries.length > MAX_EXACT_ENTRIES + MAX_REGEX_ENTRIES) {
    const message = `must be an array of at most ${MAX_EXACT_ENTRIES} exact and ${MAX_REGEX_ENTRIES} regex entries`;
    return { ok: false, errors: [{ pointer: "", message }] };
  }
  const exact = new Set<string>();
  const patterns: SafeRegex[] = [];
  let exactSeen = 0;
  let regexSeen = 0;
  let regexCost = 0;
  for (let i = 0; i < entries.length; i++) {
    const e: unknown = entries[i];
    if (typeof e !== "object" || e === null) {
      pushError(errors, `/${i}`, "must be an object with value and kind");
      continue;
    }
    const { value, kind } = e as Record<string, unknown>;
    if (kind !== "exact" && kind !== "regex") {
      pushError(errors, `/${i}/kind`, "must be exact or regex");
      continue;
    }
    if (typeof value !== "string" || value.length === 0 || value.length > MAX_ENTRY_LENGTH) {
      pushError(errors, `/${i}/value`, `must be a string of 1 to ${MAX_ENTRY_LENGTH} characters`);
      continue;
    }
    const bad = entryCharacterProblem(value);
    if (bad !== null) {
      pushError(errors, `/${i}/value`, bad);
      continue;
    }
    if (kind === "exact") {
      if (++exactSeen > MAX_EXACT_ENTRIES) {
        pushError(errors, `/${i}`, `a list holds at most ${MAX_EXACT_ENTRIES} exact entries`);
        break;
      }
      exact.add(value);
      continue;
    }
    if (++regexSeen > MAX_REGEX_ENTRIES) {
      pushError(errors, `/${i}/kind`, `a list holds at most ${MAX_REGEX_ENTRIES} regex entries`);
      continue;
    }
    const re = compileRegex(value, false);
    if (!re.ok) {
      pushError(errors, `/${i}/value`, re.message);
      continue;
    }
    regexCost += re.cost;
    if (regexCost > MAX_LIST_REGEX_COST) {
      pushError(errors, `/${i}/value`, listCostMessage(regexCost));
      continue;
    }
    patterns.push(re.regex);
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, matcher: new CompiledAllowlist(exact, patterns, regexCost) };
}

/** The message for a list whose regex entries cost `cost` (over MAX_LIST_REGEX_COST). */
export function listCostMessage(cost: number): string {
  return `the list's regex entries would cost ${cost} regex units, over the limit of ${MAX_LIST_REGEX_COST} per list`;
}

/**
 * Summed regex cost of a list's stored regex entries, as counted against the budgets; a stored
 * entry the current rules refuse counts 0 (its lookups fail instead, see compileStoredListRegexes).
 */
export function listRegexCost(patterns: readonly string[]): number {
  let cost = 0;
  for (const p of patterns) {
    const re = compileRegex(p, false);
    if (re.ok) cost += re.cost;
  }
  return cost;
}

/**
 * A stored list's regex entries compiled for the check path. Never throws here; if one entry is
 * refused by the current rules (RE2 syntax, cost) or the entries together cost more than
 * MAX_LIST_REGEX_COST, the result is one matcher whose `test` throws: a lookup that reaches the
 * regex entries then fails (a denylist refuses the device, an allowlist does not admit it).
 */
export function compileStoredListRegexes(patterns: readonly string[]): SafeRegex[] {
  const out: SafeRegex[] = [];
  let cost = 0;
  for (const p of patterns) {
    const re = compileRegex(p, false);
    if (!re.ok) return [REFUSED_LIST];
    cost += re.cost;
    if (cost > MAX_LIST_REGEX_COST) return [REFUSED_LIST];
    out.push(re.regex);
  }
  return out;
}

const REFUSED_LIST: SafeRegex = Object.freeze({
  test(): boolean {
    throw new Error("the list's stored regex entries are no longer accepted");
  },
});

class CompiledAllowlist implements AllowlistMatcher {
  constructor(
    private readonly exact: ReadonlySet<string>,
    private readonly patterns: readonly SafeRegex[],
    readonly regexCost: number,
  ) {}

  get exactCount(): number {
    return this.exact.size;
  }

  get regexCount(): number {
    return this.patterns.length;
  }

  has(id: string): boolean {
    if (typeof id !== "string") return false;
    if (this.exact.has(id)) return true;
    if (id.length > MAX_REGEX_SUBJECT_LENGTH) return false;
    try {
      for (const re of this.patterns) if (re.test(id)) return true;
    } catch {
      // Unreachable for compiled patterns; `has` is total all the same.
    }
    return false;
  }
}
