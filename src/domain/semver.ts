import semver from "semver";

/** A version string in canonical semver form (`1.2.3`, `1.2.3-beta.1`), or null when not valid semver. */
export function parseVersion(input: string): string | null {
  const v = semver.valid(input);
  return v;
}

/** Negative when a < b, zero when equal, positive when a > b. Both must be valid semver. */
export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}

/** True when `range` is a valid semver range expression (`*`, `>=8.0.0 <9`, `^8.1`). */
export function isValidRange(range: string): boolean {
  return semver.validRange(range) !== null;
}

/**
 * True when `version` lies inside `range`. Fails closed: an invalid version or range is "outside".
 * Prereleases count as inside when their numbers fit (`includePrerelease`).
 */
export function inRange(version: string, range: string): boolean {
  const compiled = compiledRange(range);
  if (compiled === null) return false;
  try {
    return compiled.test(version);
  } catch {
    return false;
  }
}

// Parsing a range costs far more than testing one, and the check path tests the same few ranges
// for every device: a bounded memo (a pure cache; the same input always yields the same Range).
const RANGE_MEMO_LIMIT = 1000;
const ranges = new Map<string, semver.Range | null>();

function compiledRange(range: string): semver.Range | null {
  let r = ranges.get(range);
  if (r === undefined) {
    try {
      r = new semver.Range(range, { includePrerelease: true });
    } catch {
      r = null;
    }
    if (ranges.size >= RANGE_MEMO_LIMIT) ranges.clear();
    ranges.set(range, r);
  }
  return r;
}

/**
 * Coerces a loose host-app version (`8.2`, `v8.2.1`, `8.2.1.4501`) to semver, or null.
 * Host apps often report three- or four-part build numbers; the first three parts decide.
 */
export function coerceVersion(input: string): string | null {
  const strict = semver.valid(input);
  if (strict) return strict;
  const coerced = semver.coerce(input);
  return coerced ? coerced.version : null;
}
