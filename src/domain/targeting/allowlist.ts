import { type CompileError, compileSafeRegex, MAX_REGEX_SUBJECT_LENGTH, pushError } from "./rules";

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
}

export const MAX_EXACT_ENTRIES = 1_000_000;
export const MAX_REGEX_ENTRIES = 100;
export const MAX_ENTRY_LENGTH = 256;

/**
 * Validates and compiles a list. Exact entries go into a Set (O(n) to build, O(1) to look up;
 * duplicates collapse); regex entries pass the same safety check as rule patterns, are
 * case-sensitive and unanchored (write `^…$`), at most MAX_REGEX_ENTRIES, and are tried only
 * after the exact lookup misses and only against ids up to MAX_REGEX_SUBJECT_LENGTH characters.
 * Error pointers are relative to the entries array (`/3/value`); at most MAX_COMPILE_ERRORS.
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
  const patterns: RegExp[] = [];
  let exactSeen = 0;
  let regexSeen = 0;
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
    const re = compileSafeRegex(value, false);
    if (typeof re === "string") pushError(errors, `/${i}/value`, re);
    else patterns.push(re);
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, matcher: new CompiledAllowlist(exact, patterns) };
}

class CompiledAllowlist implements AllowlistMatcher {
  constructor(
    private readonly exact: ReadonlySet<string>,
    private readonly patterns: readonly RegExp[],
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
    for (const re of this.patterns) if (re.test(id)) return true;
    return false;
  }
}
