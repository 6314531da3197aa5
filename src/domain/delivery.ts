import { compileMiniPrograms, type SnapshotSource } from "./compile-snapshot";
import type { SnapshotList, SnapshotMiniProgram } from "./snapshot";
import { listRegexCost } from "./targeting/allowlist";
import { compileTargeting } from "./targeting/evaluate";
import { compileRules } from "./targeting/rules";

/**
 * Delivery state of one target (app, environment), split by what changes together:
 *
 * - one **part** per mini program released there (its live releases, known versions, sync
 *   milestones), immutable under (mini program key, part version): a change to one mini program's
 *   releases compiles and writes only its part;
 * - a **bucket index** per bucket of mini programs (their keys hashed into DELIVERY_BUCKETS), naming
 *   the current part version of each: rewritten when one of its parts changes;
 * - the **head**: the version of every bucket index, and the allowlists the live canary releases
 *   refer to. It is small (a few KB whatever the number of mini programs) and is what isolates poll.
 *
 * A check reads the head, then only the bucket indexes and parts of the mini programs it asks about.
 */
export const DELIVERY_BUCKETS = 256;

/** Largest part (one mini program's compiled delivery state, as stored JSON) by default. */
export const DEFAULT_MAX_PART_BYTES = 256 * 1024;

/**
 * Most delivery data one check may use (its asked mini programs' parts, as stored JSON): a check
 * asking for more is refused with CHECK_TOO_LARGE, whatever the isolate holds, so what one check pins
 * in memory stays bounded (about 4 heap bytes per JSON byte). Ordinary parts are a few KB: 200 of
 * them are well under it.
 */
export const MAX_CHECK_PART_BYTES = 8 * 1024 * 1024;

const utf8 = new TextEncoder();

/** A list as the head carries it: what a check needs to look a device up, and its content version. */
export interface HeadList extends SnapshotList {
  /** The list's content version: a head keeps the highest it was given. */
  version: number;
}

export interface DeliveryHead {
  format: 2;
  appKey: string;
  env: string;
  /** Grows with every published change; a reader keeps whichever head has the larger one. */
  version: number;
  /** When the newest change was compiled (ms since epoch). */
  builtAt: number;
  /** Per bucket, the head version at which its index last changed; 0: no mini program in it. */
  buckets: number[];
  /** The allowlists the live canary releases of the target refer to, by id. */
  lists: Record<string, HeadList>;
}

export interface BucketIndex {
  bucket: number;
  /** The head version at which this index last changed. */
  version: number;
  /** Current part version per mini program key. */
  parts: Record<string, number>;
  /** Size of each current part as stored JSON (bytes), by key: what a check would fetch. */
  bytes: Record<string, number>;
}

/** One mini program's delivery state: immutable once written under (key, version). */
export interface DeliveryPart {
  format: 2;
  key: string;
  /** The target's snapshot version the part was compiled at. */
  version: number;
  mp: SnapshotMiniProgram;
}

/** What one publish tells the head: parts written, mini programs gone, and list contents. */
export interface DeliveryChange {
  builtAt: number;
  parts: { key: string; version: number; bytes: number; lists: string[] }[];
  /** Mini programs with no delivery state left on the target (as of `version`). */
  removed: { key: string; version: number }[];
  /** Lists the parts refer to (or that changed), with their content versions. */
  lists: Record<string, HeadList>;
  /** The parts are the whole target: every mini program not among them is removed (a rebuild). */
  replace?: boolean;
}

/**
 * The bucket of a mini program key: FNV-1a over its UTF-16 code units. Stable forever (stored
 * indexes depend on it).
 */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % DELIVERY_BUCKETS;
}

/** Ids of the lists the canary releases of `mp` refer to (a targeting that no longer compiles refers to none). */
export function listIdsOf(mp: SnapshotMiniProgram): string[] {
  const ids = new Set<string>();
  for (const release of mp.releases) {
    if (release.status !== "canary" || release.targeting === null) continue;
    const compiled = compileTargeting(release.targeting);
    if (!compiled.ok) continue;
    for (const ref of compiled.targeting.allowlists) ids.add(ref.listId);
    for (const ref of compiled.targeting.denylists) ids.add(ref.listId);
  }
  return [...ids];
}

export interface CompiledPart {
  part: DeliveryPart;
  json: string;
  /** The JSON's size in UTF-8 bytes. */
  bytes: number;
  lists: string[];
}

/**
 * Compiles the parts of the mini programs of `source` (pure and deterministic). Each part's JSON is
 * what is stored and what the size bound measures.
 */
export function compileParts(source: SnapshotSource): CompiledPart[] {
  const mps = compileMiniPrograms(source);
  const parts: CompiledPart[] = [];
  for (const key of Object.keys(mps)) {
    const mp = mps[key] as SnapshotMiniProgram;
    const part: DeliveryPart = { format: 2, key, version: source.version, mp };
    const json = JSON.stringify(part);
    parts.push({ part, json, bytes: utf8.encode(json).byteLength, lists: listIdsOf(mp) });
  }
  return parts;
}

/** The head lists of `ids`, from the source's lists (unknown ids are left out). */
export function headLists(source: SnapshotSource, ids: Iterable<string>): Record<string, HeadList> {
  const wanted = new Set(ids);
  const lists: Record<string, HeadList> = {};
  for (const l of source.lists) {
    if (!wanted.has(l.id)) continue;
    lists[l.id] = {
      kind: l.kind,
      contentKey: l.contentKey,
      shardCount: l.shardCount,
      regex: l.regexEntries,
      version: l.version,
    };
  }
  return lists;
}

/**
 * What the per-check regex budget measures of a target, without compiling all of it: the canary
 * targetings of the mini program being changed (whole), and of every other mini program only its
 * distinct regex rules and the lists it refers to (read that way from the store).
 */
export interface RegexSummary {
  /** Distinct regex rules (stored rule objects) of live canary releases of other mini programs. */
  rules: unknown[];
  /** Lists referred to by live canary releases of other mini programs. */
  listIds: string[];
}

/**
 * The regex work one check of the target may do, in regex cost units (see snapshotRegexCost in
 * compile-snapshot.ts, which this equals on the whole target): every distinct regex rule of the
 * live canary releases once, plus the regex entries of every list they refer to once.
 */
export function targetRegexCost(
  canaryTargetings: readonly (Record<string, unknown> | null)[],
  others: RegexSummary,
  lists: readonly { id: string; regexEntries: string[] }[],
): number {
  let cost = 0;
  const seen = new Set<string>();
  const listIds = new Set(others.listIds);
  const addRules = (rules: readonly { key: string; regexCost: number }[]) => {
    for (const rule of rules) {
      if (rule.regexCost === 0 || seen.has(rule.key)) continue;
      seen.add(rule.key);
      cost += rule.regexCost;
    }
  };
  for (const targeting of canaryTargetings) {
    if (targeting === null) continue;
    const compiled = compileTargeting(targeting);
    if (!compiled.ok) continue;
    addRules(compiled.targeting.rules);
    for (const ref of compiled.targeting.allowlists) listIds.add(ref.listId);
    for (const ref of compiled.targeting.denylists) listIds.add(ref.listId);
  }
  for (const rule of others.rules) {
    const compiled = compileRules([rule]);
    if (compiled.ok) addRules(compiled.rules);
  }
  for (const l of lists) if (listIds.has(l.id)) cost += listRegexCost(l.regexEntries);
  return cost;
}

const GEOGRAPHY: ReadonlySet<string> = new Set(["country", "region", "city"]);

/**
 * Whether a canary rule of the mini program reads the device's geography (from the stored
 * targeting, without compiling it). When no asked mini program's does, a check need not read
 * `request.cf`, which the runtime materializes on first access (docs/performance.md).
 */
export function readsGeography(mp: SnapshotMiniProgram): boolean {
  for (const release of mp.releases) {
    if (release.status !== "canary" || release.targeting === null) continue;
    const rules = release.targeting.rules;
    if (!Array.isArray(rules)) continue;
    for (const rule of rules) {
      const attribute = (rule as { attribute?: unknown } | null)?.attribute;
      if (typeof attribute === "string" && GEOGRAPHY.has(attribute)) return true;
    }
  }
  return false;
}
