import type { SnapshotSource } from "../domain/compile-snapshot";
import { compileParts, type DeliveryChange, headLists, type RegexSummary, targetRegexCost } from "../domain/delivery";
import { AppError } from "../domain/errors";
import { MAX_TARGET_REGEX_COST } from "../domain/targeting/rules";
import type { AllowlistRecord, Deps, MeasuredEnvironment, PublishStats } from "./ports";

/** Environments a change touching many targets publishes to at once. */
const PUBLISH_CONCURRENCY = 16;

/**
 * What the bounds measure of a change: the size of the changed mini program's part as stored JSON
 * (0 without one) and the per-check regex cost of the whole target (targetRegexCost).
 */
function measure(source: SnapshotSource, others: RegexSummary): { bytes: number; regex: number } {
  const parts = compileParts(source);
  let bytes = 0;
  const canaries: (Record<string, unknown> | null)[] = [];
  for (const { part, bytes: size } of parts) {
    bytes = Math.max(bytes, size);
    for (const r of part.mp.releases) if (r.status === "canary") canaries.push(r.targeting);
  }
  return { bytes, regex: targetRegexCost(canaries, others, source.lists) };
}

/**
 * Refuses, before anything is written, a change that would make one mini program's delivery part
 * larger than `deps.limits.maxPartBytes` (SNAPSHOT_TOO_LARGE: only that mini program's own size
 * counts, however many others the target has), or make one check of the environment evaluate regex
 * patterns costing more than MAX_TARGET_REGEX_COST (REGEX_BUDGET_EXCEEDED, see targetRegexCost).
 * `apply` makes the change on a fresh copy of the relational state of `miniProgramId` on the
 * environment (none for a list change: only the lists are in it), which is then compiled and
 * measured as it would be stored; the rest of the target is measured from the store's regex summary.
 * A change that grows neither measure always passes, so pausing or ending releases always passes.
 *
 * Returns the environment's snapshot version the measured state had (null: no such environment).
 * A change that can add to delivery passes it to its write, which then commits only while the
 * environment still has that version (a compare-and-swap; every change affecting delivery bumps it),
 * else changes nothing and answers CONFLICT.
 */
export async function assertDeliveryFits(
  deps: Deps,
  environmentId: string,
  miniProgramId: string | null,
  apply: (source: SnapshotSource) => void,
): Promise<MeasuredEnvironment | null> {
  const max = deps.limits.maxPartBytes;
  const read = () => deps.store.measureSource(environmentId, deps.clock.now(), miniProgramId);
  for (let attempt = 0; attempt < 3; attempt++) {
    const state = await read();
    if (state === null) return null;
    const { source, others } = state;
    const measured = { environmentId, snapshotVersion: source.version };
    apply(source);
    const next = measure(source, others);
    if (next.bytes <= max && next.regex <= MAX_TARGET_REGEX_COST) return measured;
    // Over a bound: refused only if the change grows that measure (the current state, read again,
    // measured). Another change committed between the two reads: they are of different states, so
    // measure again.
    const current = await read();
    if (current !== null && current.source.version !== source.version) continue;
    const now = current === null ? { bytes: 0, regex: 0 } : measure(current.source, current.others);
    if (next.bytes > max && next.bytes > now.bytes) {
      throw new AppError(
        "SNAPSHOT_TOO_LARGE",
        `This change would make the mini program's delivery data on this environment ${next.bytes} bytes, over its ` +
          `limit of ${max}: make configurations or targeting smaller, or end releases that are no longer needed.`,
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
 * Compiles and publishes the delivery parts of `miniProgramIds` on one environment (all of its mini
 * programs when omitted), from one consistent read of the relational state. Called after every
 * change that affects delivery, for the mini programs it changed only. Parts are versioned by the
 * environment's snapshot version and the head never goes back to an older one, so concurrent
 * publishes of the same mini program end with the newest state whatever order they finish in.
 */
export async function publishDelivery(
  deps: Deps,
  environmentId: string,
  miniProgramIds?: readonly string[],
  replace = false,
): Promise<PublishStats | null> {
  const source = await deps.store.snapshotSource(environmentId, deps.clock.now(), miniProgramIds);
  if (source === null) return null;
  const parts = compileParts(source);
  const used = new Set<string>();
  for (const p of parts) for (const id of p.lists) used.add(id);
  const change: DeliveryChange = {
    builtAt: source.builtAt,
    parts: parts.map(({ part, bytes, lists }) => ({ key: part.key, version: part.version, bytes, lists })),
    removed: [],
    lists: headLists(source, used),
    replace: replace && miniProgramIds === undefined,
  };
  return deps.delivery.publish(source.appKey, source.env, parts, change);
}

/**
 * Publishes a list's new content to the targets whose live canary releases refer to it (found in one
 * query; only their heads change, since parts name lists by id), several at once. Targets that do not
 * use the list cost nothing.
 */
export async function publishList(deps: Deps, list: AllowlistRecord): Promise<void> {
  const targets = await deps.store.targetsUsingList(list.workspaceId, list.id);
  const change: DeliveryChange = {
    builtAt: deps.clock.now(),
    parts: [],
    removed: [],
    lists: {
      [list.id]: {
        kind: list.kind,
        contentKey: list.contentKey,
        shardCount: list.shardCount,
        regex: list.regexEntries,
        version: list.contentVersion,
      },
    },
  };
  await inGroups(targets, (target) => deps.delivery.publish(target.appKey, target.env, [], change));
}

/** Publishes one mini program's part on each of `environmentIds`, several at once. */
export async function publishMiniProgram(
  deps: Deps,
  miniProgramId: string,
  environmentIds: readonly string[],
): Promise<void> {
  await inGroups(environmentIds, (environmentId) => publishDelivery(deps, environmentId, [miniProgramId]));
}

async function inGroups<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += PUBLISH_CONCURRENCY) {
    await Promise.all(items.slice(i, i + PUBLISH_CONCURRENCY).map(work));
  }
}
