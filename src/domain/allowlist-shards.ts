import { MAX_FIELD_ERRORS } from "./errors";
import {
  entryCharacterProblem,
  listCostMessage,
  MAX_ENTRY_LENGTH,
  MAX_EXACT_ENTRIES,
  MAX_LIST_REGEX_COST,
  MAX_REGEX_ENTRIES,
} from "./targeting/allowlist";
import { compileRegex } from "./targeting/rules";

/** Exact entries per shard the layout aims for: small enough to load per lookup, few enough to list. */
export const TARGET_SHARD_SIZE = 4096;
/** Upper bound on shards of one list (1,000,000 entries → 256 shards). */
export const MAX_SHARDS = 1024;

/** Line prefix that marks a regex entry in an uploaded list. */
export const REGEX_PREFIX = "re:";

/** Shards for `n` exact entries: a power of two ≥ n / TARGET_SHARD_SIZE, between 1 and MAX_SHARDS. */
export function shardCountFor(n: number): number {
  let count = 1;
  while (count < MAX_SHARDS && count * TARGET_SHARD_SIZE < n) count *= 2;
  return count;
}

/** FNV-1a (32-bit) of the id's UTF-16 code units, reduced to a shard; stable across versions. */
export function shardOf(id: string, shardCount: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shardCount;
}

export interface ParsedEntries {
  exact: string[];
  regex: string[];
  /** Summed regex cost of the regex entries (at most MAX_LIST_REGEX_COST). */
  regexCost: number;
}

export type ParseResult =
  | { ok: true; entries: ParsedEntries }
  | { ok: false; errors: { pointer: string; message: string }[] };

/**
 * Parses an uploaded list: one entry per line (LF, CRLF or a lone CR, surrounding blanks trimmed), blank lines
 * ignored, `re:` marks a regex entry. Exact and regex entries are de-duplicated. Refuses entries over MAX_ENTRY_LENGTH,
 * entries holding a control, invisible or bidirectional formatting character (tab included), more than
 * MAX_EXACT_ENTRIES exact or MAX_REGEX_ENTRIES regex entries, patterns RE2 cannot compile or
 * costing over MAX_PATTERN_REGEX_COST, and regex entries costing over MAX_LIST_REGEX_COST together
 * (reported with a pointer `/lines/<n>` counted from 1; at most MAX_FIELD_ERRORS errors; never
 * echoing the entry).
 */
export function parseEntries(upload: string): ParseResult {
  // Old Mac line ends (a lone CR) are line ends too, not part of an entry. Normalized once (no CR: no copy).
  const text = upload.includes("\r") ? upload.replace(/\r\n?/g, "\n") : upload;
  const errors: { pointer: string; message: string }[] = [];
  const exact = new Set<string>();
  const regex: string[] = [];
  let regexCost = 0;
  let line = 0;
  let start = 0;
  while (start <= text.length && errors.length < MAX_FIELD_ERRORS) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    line += 1;
    const value = text.slice(start, end).trim();
    start = end + 1;
    if (value === "") {
      if (end === text.length) break;
      continue;
    }
    const pointer = `/lines/${line}`;
    const bad = entryCharacterProblem(value);
    if (bad !== null) {
      errors.push({ pointer, message: `entries ${bad}` });
    } else if (value.startsWith(REGEX_PREFIX)) {
      const pattern = value.slice(REGEX_PREFIX.length);
      const compiled = compileRegex(pattern, false);
      if (!compiled.ok) errors.push({ pointer, message: `invalid pattern: ${compiled.message}` });
      else if (regex.includes(pattern)) {
        // A repeated pattern (also across an append) is kept once.
      } else if (regex.length >= MAX_REGEX_ENTRIES)
        errors.push({ pointer, message: `at most ${MAX_REGEX_ENTRIES} regex entries` });
      else if (regexCost + compiled.cost > MAX_LIST_REGEX_COST)
        errors.push({ pointer, message: listCostMessage(regexCost + compiled.cost) });
      else {
        regex.push(pattern);
        regexCost += compiled.cost;
      }
    } else if (value.length > MAX_ENTRY_LENGTH) {
      errors.push({ pointer, message: `entries are at most ${MAX_ENTRY_LENGTH} characters` });
    } else {
      exact.add(value);
      if (exact.size > MAX_EXACT_ENTRIES)
        errors.push({ pointer, message: `at most ${MAX_EXACT_ENTRIES} exact entries` });
    }
    if (end === text.length) break;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, entries: { exact: [...exact], regex, regexCost } };
}

/** Splits exact entries into `shardCount` newline-joined, sorted shard bodies (index = shard number). */
export function buildShards(exact: readonly string[], shardCount: number): string[] {
  const buckets: string[][] = Array.from({ length: shardCount }, () => []);
  for (const id of exact) buckets[shardOf(id, shardCount)]?.push(id);
  return buckets.map((b) => b.sort().join("\n"));
}
