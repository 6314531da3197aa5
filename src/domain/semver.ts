import semver from "semver";
import { memo, memo2 } from "./memo";

// The check path asks the same few questions (the same app versions, installed versions and compat
// ranges) for every device, and semver parsing dominates their cost (loose inputs such as `8.2` even
// throw and catch inside the library): each function is memoized (./memo.ts).

/** A version string in canonical semver form (`1.2.3`, `1.2.3-beta.1`), or null when not valid semver. */
export const parseVersion: (input: string) => string | null = memo((input) => semver.valid(input));

/** Negative when a < b, zero when equal, positive when a > b. Both must be valid semver. */
export const compareVersions: (a: string, b: string) => number = memo2((a, b) => semver.compare(a, b));

/** True when `range` is a valid semver range expression (`*`, `>=8.0.0 <9`, `^8.1`). */
export function isValidRange(range: string): boolean {
  return semver.validRange(range) !== null;
}

const compiledRange = memo((range): semver.Range | null => {
  try {
    return new semver.Range(range, { includePrerelease: true });
  } catch {
    return null;
  }
});

const inRangeMemo = memo2((range, version) => {
  const compiled = compiledRange(range);
  if (compiled === null) return false;
  try {
    return compiled.test(version);
  } catch {
    return false;
  }
});

/**
 * True when `version` lies inside `range`. Fails closed: an invalid version or range is "outside".
 * Prereleases count as inside when their numbers fit (`includePrerelease`).
 */
export function inRange(version: string, range: string): boolean {
  return inRangeMemo(range, version);
}

/**
 * Coerces a loose host-app version (`8.2`, `v8.2.1`, `8.2.1.4501`) to semver, or null.
 * Host apps often report three- or four-part build numbers; the first three parts decide.
 */
export const coerceVersion: (input: string) => string | null = memo((input) => {
  const strict = semver.valid(input);
  if (strict) return strict;
  const coerced = semver.coerce(input);
  return coerced ? coerced.version : null;
});

/**
 * True when every host app inside compatibility range `old` is also inside `range` (as the check
 * path tests compatibility: `*` lets in every device, even one that sends no app version; any other
 * range only devices whose version it contains). Invalid ranges cover nothing.
 */
export function rangeCovers(range: string, old: string): boolean {
  if (range === "*" || range === old) return true;
  if (old === "*") return false;
  try {
    return semver.subset(old, range, { includePrerelease: true });
  } catch {
    return false;
  }
}
