import { shardOf } from "../domain/allowlist-shards";
import { type CanaryContext, type Decision, type DeviceQuery, decide } from "../domain/decide";
import type { Snapshot, SnapshotList, SnapshotMiniProgram, SnapshotRelease } from "../domain/snapshot";
import { type BucketKey, createBucketer } from "../domain/targeting/bucket";
import { type Admission, compileTargeting, stickyIdFor, type Targeting } from "../domain/targeting/evaluate";
import { compileSafeRegex, type DeviceProfile, MAX_REGEX_SUBJECT_LENGTH } from "../domain/targeting/rules";
import type { Deps, ShardLookup } from "./ports";

// Memos keyed by immutable snapshot objects: a snapshot is compiled once per isolate, not per request.
const compiledTargeting = new WeakMap<SnapshotRelease, Targeting | null>();
const bucketers = new WeakMap<SnapshotRelease, (id: string) => number>();
const listRegexes = new WeakMap<SnapshotList, RegExp[]>();
const listIds = new WeakMap<SnapshotMiniProgram, string[]>();

function targetingOf(release: SnapshotRelease): Targeting | null {
  let t = compiledTargeting.get(release);
  if (t === undefined) {
    const compiled = release.targeting === null ? null : compileTargeting(release.targeting);
    t = compiled?.ok ? compiled.targeting : null;
    compiledTargeting.set(release, t);
  }
  return t;
}

/** Ids of the lists any canary release of `mp` refers to. */
function listsOf(mp: SnapshotMiniProgram): string[] {
  let ids = listIds.get(mp);
  if (ids === undefined) {
    const set = new Set<string>();
    for (const release of mp.releases) {
      const t = release.status === "canary" ? targetingOf(release) : null;
      for (const ref of t ? [...t.allowlists, ...t.denylists] : []) set.add(ref.listId);
    }
    ids = [...set];
    listIds.set(mp, ids);
  }
  return ids;
}

function regexesOf(list: SnapshotList): RegExp[] {
  let r = listRegexes.get(list);
  if (r === undefined) {
    r = list.regex.map((p) => compileSafeRegex(p, false)).filter((x): x is RegExp => typeof x !== "string");
    listRegexes.set(list, r);
  }
  return r;
}

/** The device identity used for list lookups of a list of `kind`. */
const idFor = (kind: "user" | "device", ids: { userId: string | null; deviceId: string }) =>
  kind === "user" ? ids.userId : ids.deviceId;

export interface DeviceIdentity {
  profile: DeviceProfile;
  ids: { userId: string | null; deviceId: string };
}

/**
 * Prepares canary evaluation for one check: loads, for every list any canary release of the asked
 * mini programs refers to, the one shard that can hold this device's id (isolate-cached), so the
 * decision itself stays synchronous.
 */
export async function canaryContext(
  deps: Deps,
  snapshot: Snapshot,
  mps: (SnapshotMiniProgram | undefined)[],
  device: DeviceIdentity,
  now: number,
): Promise<{ ctx: CanaryContext; admissions: Map<string, Admission> }> {
  const needed = new Set<string>();
  for (const mp of mps) if (mp !== undefined) for (const listId of listsOf(mp)) needed.add(listId);
  const shards = new Map<string, ShardLookup>();
  const loads: Promise<void>[] = [];
  for (const listId of needed) {
    const list = snapshot.lists[listId];
    const id = list ? idFor(list.kind, device.ids) : null;
    if (!list || id === null) continue;
    const shard = shardOf(id, list.shardCount);
    const cached = deps.lists.cachedShard?.(list.contentKey, shard);
    if (cached) shards.set(listId, cached);
    else loads.push(deps.lists.getShard(list.contentKey, shard).then((s) => void shards.set(listId, s)));
  }
  // Only shards this isolate does not hold yet cost an await.
  if (loads.length > 0) await Promise.all(loads);
  const admissions = new Map<string, Admission>();
  const membership = new Map<string, boolean>();
  const key: BucketKey | null = deps.bucketKey;
  const ctx: CanaryContext = {
    profile: device.profile,
    ids: device.ids,
    now,
    targetingOf,
    inList(listId, id) {
      const list = snapshot.lists[listId];
      if (!list || id !== idFor(list.kind, device.ids)) return false;
      // Many releases share a list and the id is always this device's: look it up once per check.
      let hit = membership.get(listId);
      if (hit === undefined) {
        hit =
          shards.get(listId)?.has(id) === true ||
          regexesOf(list).some((re) => id.length <= MAX_REGEX_SUBJECT_LENGTH && re.test(id));
        membership.set(listId, hit);
      }
      return hit;
    },
    bucketOf(release, t) {
      const sticky = stickyIdFor(t, device.ids);
      if (key === null || sticky === null) return null;
      let bucketer = bucketers.get(release);
      if (!bucketer) {
        bucketer = createBucketer(key, release.releaseId);
        bucketers.set(release, bucketer);
      }
      return bucketer(sticky);
    },
    admission: (releaseId) => admissions.get(releaseId) ?? "unknown",
    ruleMatches: new Map(),
  };
  return { ctx, admissions };
}

/**
 * Settles a decision that waits on a time-window admission (`pendingAdmission`): asks the authority
 * (`admit`), or only looks the device up (`lookup`, for explain, which also records the per-release
 * trace), and decides again.
 */
export async function settleAdmission(
  deps: Deps,
  mp: SnapshotMiniProgram | undefined,
  q: DeviceQuery,
  canary: { ctx: CanaryContext; admissions: Map<string, Admission> },
  mode: "admit" | "lookup",
  first: Decision,
): Promise<Decision> {
  const explain = mode === "lookup";
  let decision = first;
  // Each round settles one release; a mini program has few live releases.
  for (let round = 0; round < 4 && decision.action === "none" && decision.pendingAdmission; round++) {
    const release = decision.pendingAdmission;
    const window = targetingOf(release)?.timeWindow;
    if (!window) break;
    const answer =
      mode === "admit"
        ? await deps.admissions.admit(release.releaseId, canary.ctx.ids.deviceId, window, canary.ctx.now)
        : await deps.admissions.lookup(release.releaseId, canary.ctx.ids.deviceId);
    canary.admissions.set(release.releaseId, answer.admitted ? "admitted" : "not_admitted");
    decision = decide(mp, q, canary.ctx, explain);
  }
  return decision;
}
