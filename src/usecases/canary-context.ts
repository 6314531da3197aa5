import { shardOf } from "../domain/allowlist-shards";
import { type CanaryContext, type Decision, type DeviceQuery, decide } from "../domain/decide";
import type { SnapshotList, SnapshotMiniProgram, SnapshotRelease } from "../domain/snapshot";
import { compileStoredListRegexes } from "../domain/targeting/allowlist";
import { type BucketKey, createBucketer } from "../domain/targeting/bucket";
import { type Admission, compileTargeting, stickyIdFor, type Targeting } from "../domain/targeting/evaluate";
import { type DeviceProfile, MAX_REGEX_SUBJECT_LENGTH, type SafeRegex } from "../domain/targeting/rules";
import type { AdmissionAnswer, DeliveryView, Deps, ShardLookup } from "./ports";

// Memos keyed by immutable delivery objects: compiled once per isolate, not per request. Compiled
// targeting is keyed by the targeting object itself, which the isolate's delivery cache shares
// between parts whose targeting is the same (interned): each distinct targeting compiles once.
const compiledTargeting = new WeakMap<object, Targeting | null>();
const bucketers = new WeakMap<SnapshotRelease, (id: string) => number>();
const listRegexes = new WeakMap<SnapshotList, SafeRegex[]>();
const listIds = new WeakMap<SnapshotMiniProgram, string[]>();

function targetingOf(release: SnapshotRelease): Targeting | null {
  const stored = release.targeting;
  if (stored === null) return null;
  let t = compiledTargeting.get(stored);
  if (t === undefined) {
    const compiled = compileTargeting(stored);
    t = compiled.ok ? compiled.targeting : null;
    compiledTargeting.set(stored, t);
  }
  return t;
}

/** Delivery state past its maximum age (DeliveryView.withholdCanaries): no canary release applies. */
const withheld = () => null;

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

/** A list's regex entries, compiled once per snapshot object; entries no longer accepted fail lookups. */
function regexesOf(list: SnapshotList): SafeRegex[] {
  let r = listRegexes.get(list);
  if (r === undefined) {
    r = compileStoredListRegexes(list.regex);
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

/** What canary evaluation of one check needs, and the time-window answers it learns on the way. */
export interface CanaryParts {
  ctx: CanaryContext;
  admissions: Map<string, Admission>;
  /**
   * The authority's answer per release, asked once per check: a check may ask about one mini program
   * many times (up to 200 entries), and must not turn into as many calls to the Durable Object.
   */
  asked?: Map<string, Promise<AdmissionAnswer>>;
}

/** One list a check may consult: its shard for this device's id, and the lookup's outcome once known. */
interface CheckList {
  listId: string;
  /** null: the head in hand does not carry the list (the entry has failed). */
  list: SnapshotList | null;
  id: string;
  shard: ShardLookup | null;
  /** The shard could not be read: a lookup throws (a denylist refuses, an allowlist does not admit). */
  failed: boolean;
  hit: boolean | undefined;
}

/**
 * Prepares canary evaluation for one check: loads, for every list any canary release of the asked
 * mini programs refers to, the one shard that can hold this device's id (isolate-cached), so the
 * decision itself stays synchronous. A check refers to few lists: they are kept in an array.
 */
export function canaryContext(
  deps: Deps,
  view: DeliveryView,
  mps: (SnapshotMiniProgram | undefined)[],
  device: DeviceIdentity,
  now: number,
): CanaryParts | Promise<CanaryParts> {
  const lists: CheckList[] = [];
  let loads: Promise<void>[] | null = null;
  for (const mp of mps) {
    if (mp === undefined) continue;
    for (const listId of listsOf(mp)) {
      if (findList(lists, listId) !== undefined) continue;
      // List ids come from validated targeting, but only own entries are lists all the same.
      const list = Object.hasOwn(view.lists, listId) ? view.lists[listId] : undefined;
      if (list === undefined) {
        // A part newer than the head in hand (or an older copy served after a fault) refers to a list
        // the head does not carry: its lookups fail, so a denylist keeps the device out and an
        // allowlist admits nobody, as when a shard cannot be read.
        lists.push({ listId, list: null, id: "", shard: null, failed: true, hit: undefined });
        continue;
      }
      const id = idFor(list.kind, device.ids);
      if (id === null) continue;
      const entry: CheckList = { listId, list, id, shard: null, failed: false, hit: undefined };
      lists.push(entry);
      const shard = shardOf(id, list.shardCount);
      const cached = deps.lists.cachedShard?.(list.contentKey, shard);
      if (cached) entry.shard = cached;
      else {
        loads ??= [];
        loads.push(
          deps.lists.getShard(list.contentKey, shard).then(
            (s) => {
              entry.shard = s;
            },
            () => {
              entry.failed = true;
            },
          ),
        );
      }
    }
  }
  const admissions = new Map<string, Admission>();
  const key: BucketKey | null = deps.bucketKey;
  const ctx: CanaryContext = {
    profile: device.profile,
    ids: device.ids,
    now,
    targetingOf: view.withholdCanaries ? withheld : targetingOf,
    inList(listId, id) {
      // Many releases share a list and the id is always this device's: it is looked up once per check.
      const entry = findList(lists, listId);
      if (entry === undefined) return false;
      if (entry.failed) throw new Error("list lookup failed");
      if (id !== entry.id) return false;
      if (entry.hit === undefined) {
        entry.hit =
          entry.shard?.has(id) === true ||
          regexesOf(entry.list as SnapshotList).some((re) => id.length <= MAX_REGEX_SUBJECT_LENGTH && re.test(id));
      }
      return entry.hit;
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
    // What this check learnt, else what the isolate already knows (no await for a decided device).
    admission: (releaseId) =>
      admissions.get(releaseId) ?? deps.admissions.known?.(releaseId, device.ids.deviceId) ?? "unknown",
    ruleMatches: new Map(),
  };
  const parts = { ctx, admissions };
  // Only shards this isolate does not hold yet cost an await (the lookups read them when called).
  return loads === null ? parts : Promise.all(loads).then(() => parts);
}

function findList(lists: CheckList[], listId: string): CheckList | undefined {
  for (const entry of lists) if (entry.listId === listId) return entry;
  return undefined;
}

/**
 * Settles a decision that waits on a time-window admission (`pendingAdmission`): asks the authority
 * (`admit`), or only looks the device up (`lookup`, for explain, which also records the per-release
 * trace), and decides again. A lookup that finds the device out of a window still open to it leaves
 * the decision waiting, as the device's next check would be.
 */
export async function settleAdmission(
  deps: Deps,
  mp: SnapshotMiniProgram | undefined,
  q: DeviceQuery,
  canary: CanaryParts,
  mode: "admit" | "lookup",
  first: Decision,
): Promise<Decision> {
  const explain = mode === "lookup";
  let decision = first;
  // Each round settles one release (its answer is then known), so the live releases bound the rounds:
  // however many time-window canaries wait, none is left unasked.
  const rounds = (mp?.releases.length ?? 0) + 1;
  for (let round = 0; round < rounds && decision.action === "none" && decision.pendingAdmission; round++) {
    const release = decision.pendingAdmission;
    const window = targetingOf(release)?.timeWindow;
    if (!window) break;
    let answer: AdmissionAnswer;
    try {
      canary.asked ??= new Map();
      let asking = canary.asked.get(release.releaseId);
      if (asking === undefined) {
        asking =
          mode === "admit"
            ? deps.admissions.admit(release.releaseId, canary.ctx.ids.deviceId, window, canary.ctx.now)
            : deps.admissions.lookup(release.releaseId, canary.ctx.ids.deviceId);
        canary.asked.set(release.releaseId, asking);
      }
      answer = await asking;
    } catch {
      // The authority cannot be reached: not admitted, for this check only (nothing is cached), so
      // the device gets what it would get outside the window, full releases included.
      answer = { admitted: false, closed: false };
      if (explain) break;
    }
    // Explain only looks: a device not admitted to a window that is still open and under its cap is
    // not refused, its next check would ask (the release stays "needs admission", ADMISSION_REQUIRED).
    if (explain && !answer.admitted && !answer.closed && canary.ctx.now < window.endsAt) break;
    canary.admissions.set(release.releaseId, answer.admitted ? "admitted" : "not_admitted");
    decision = decide(mp, q, canary.ctx, explain);
  }
  return decision;
}
