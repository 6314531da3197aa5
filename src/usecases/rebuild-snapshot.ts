import { compileSnapshot, type SnapshotSource, snapshotRegexCost } from "../domain/compile-snapshot";
import { AppError } from "../domain/errors";
import { MAX_TARGET_REGEX_COST } from "../domain/targeting/rules";
import type { Deps, MeasuredEnvironment } from "./ports";

/**
 * Default bound on one (app, environment)'s delivery snapshot, as stored JSON. KV takes values up
 * to 25 MiB, but every isolate parses and holds the whole snapshot: 8 MiB is thousands of releases
 * with ordinary configurations and targeting.
 */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024;

const utf8 = new TextEncoder();

/** What the bounds measure of one compiled snapshot: its stored size and its per-check regex cost. */
function measure(source: SnapshotSource): { bytes: number; regex: number } {
  const snapshot = compileSnapshot(source);
  return { bytes: utf8.encode(JSON.stringify(snapshot)).byteLength, regex: snapshotRegexCost(snapshot) };
}

/**
 * Refuses, before anything is written, a change that would make the environment's delivery snapshot
 * larger than `deps.limits.maxSnapshotBytes` (SNAPSHOT_TOO_LARGE), or make one check of the
 * environment evaluate regex patterns costing more than MAX_TARGET_REGEX_COST
 * (REGEX_BUDGET_EXCEEDED, see snapshotRegexCost): `apply` makes the change on a fresh copy of the
 * relational state, which is then compiled and measured as it would be stored. Without it, a change
 * committed to D1 could fail to publish and leave devices on a stale snapshot, or make every check
 * slow. A change that grows neither measure always passes, so one that got over a bound anyway (a
 * lowered bound, growth from elsewhere, targeting saved before the bound existed) can always be
 * brought back under it: pausing or ending releases always passes.
 *
 * Returns the environment's snapshot version the measured state had (null: no such environment).
 * The measurement holds only for that state: a change that can add to the snapshot passes it to its
 * write, which then commits only while the environment still has that version (a compare-and-swap;
 * every change affecting delivery bumps it), else changes nothing and answers CONFLICT. So two
 * changes that each fit alone cannot both commit on the same state and together outgrow a bound.
 */
export async function assertSnapshotFits(
  deps: Deps,
  environmentId: string,
  apply: (source: SnapshotSource) => void,
): Promise<MeasuredEnvironment | null> {
  const max = deps.limits.maxSnapshotBytes;
  const read = () => deps.store.snapshotSource(environmentId, deps.clock.now());
  for (let attempt = 0; attempt < 3; attempt++) {
    const source = await read();
    if (source === null) return null;
    const measured = { environmentId, snapshotVersion: source.version };
    apply(source);
    const next = measure(source);
    if (next.bytes <= max && next.regex <= MAX_TARGET_REGEX_COST) return measured;
    // Over a bound: refused only if the change grows that measure (the current state, read again,
    // measured). Another change committed between the two reads: they are of different states, so
    // measure again.
    const current = await read();
    if (current !== null && current.version !== source.version) continue;
    const now = current === null ? { bytes: 0, regex: 0 } : measure(current);
    if (next.bytes > max && next.bytes > now.bytes) {
      throw new AppError(
        "SNAPSHOT_TOO_LARGE",
        `This change would make the environment's delivery snapshot ${next.bytes} bytes, over its limit of ${max}: ` +
          "make configurations or targeting smaller, or end releases that are no longer needed.",
      );
    }
    if (next.regex > MAX_TARGET_REGEX_COST && next.regex > now.regex) {
      throw new AppError(
        "REGEX_BUDGET_EXCEEDED",
        `This change would make one device check of the environment evaluate regex patterns costing ${next.regex} ` +
          `units, over its limit of ${MAX_TARGET_REGEX_COST}: use fewer or simpler patterns (or include and prefix ` +
          "rules), fewer regex list entries, or end canary releases that are no longer needed.",
      );
    }
    return measured;
  }
  throw new AppError("CONFLICT", "The environment kept being changed by others meanwhile; read it again and retry.");
}

/**
 * Recompiles the delivery snapshot of one (app, environment) from the relational state and stores
 * it. Called after every change that affects delivery. If a concurrent change raised the target's
 * snapshot version while this one was building, it builds again so the newest state is stored last.
 */
export async function rebuildSnapshot(deps: Deps, environmentId: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const source = await deps.store.snapshotSource(environmentId, deps.clock.now());
    if (source === null) return;
    await deps.snapshots.put(compileSnapshot(source));
    const after = await deps.store.snapshotSource(environmentId, deps.clock.now());
    if (after === null || after.version === source.version) return;
  }
}
