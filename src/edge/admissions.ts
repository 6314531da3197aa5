import { type Admission, MAX_CAP } from "../domain/targeting/evaluate";
import type { AdmissionAnswer, AdmissionGate } from "../usecases/ports";
import type { AdmissionCounter } from "./admission-counter";
import { within } from "./deadline";
import type { MemoryBudget } from "./memory-budget";

/** Heap bytes charged per remembered admitted pair and per member of a closed set (ids of ~30 characters). */
const PAIR_BYTES = 120;
const MEMBER_BYTES = 80;

/**
 * Time limits of the calls a check makes to a time-window's Durable Object (ms). On expiry of an
 * admit or lookup the device is not admitted, for this check only (nothing is remembered); on expiry
 * of the member-set fetch the answer in hand stands and a later request fetches the set again.
 */
export const ADMISSION_TIME_LIMITS = { admit: 1000, members: 2000 } as const;

/** An admission gate that can also list a release's admitted devices (final once closed). */
export interface AdmissionAuthority extends AdmissionGate {
  members(releaseId: string): Promise<string[]>;
}

/** The gate backed by one AdmissionCounter Durable Object per release. */
export function durableObjectAdmissionGate(ns: DurableObjectNamespace<AdmissionCounter>): AdmissionAuthority {
  const counter = (releaseId: string) => ns.get(ns.idFromName(releaseId));
  // Copy the RPC results into plain values (the stub's result types carry RPC wrappers).
  const plain = ({ admitted, closed }: AdmissionAnswer): AdmissionAnswer => ({ admitted, closed });
  return {
    admit: async (releaseId, deviceId, window, now) =>
      plain(
        await within(
          ADMISSION_TIME_LIMITS.admit,
          "a time-window admission",
          counter(releaseId).admit(deviceId, { ...window }, now),
        ),
      ),
    lookup: async (releaseId, deviceId) =>
      plain(await within(ADMISSION_TIME_LIMITS.admit, "a time-window lookup", counter(releaseId).lookup(deviceId))),
    count: async (releaseId) => {
      const { admitted, cap } = await within(
        ADMISSION_TIME_LIMITS.admit,
        "a time-window count",
        counter(releaseId).tally(),
      );
      return { admitted, cap };
    },
    members: async (releaseId) => [
      ...(await within(ADMISSION_TIME_LIMITS.members, "a time-window member set", counter(releaseId).members())),
    ],
  };
}

export interface AdmissionCacheLimits {
  /** Admitted (release, device) pairs remembered; the oldest is forgotten first. */
  maxPairs: number;
  /** Device ids held across all closed releases' sets; the oldest release's set is dropped first. */
  maxMembers: number;
}

const MAX_OVERSIZE = 1000;

// A whole closed set of the largest cap fits (MAX_CAP is bounded by this cache for that reason).
export const DEFAULT_ADMISSION_CACHE_LIMITS: AdmissionCacheLimits = { maxPairs: 100_000, maxMembers: MAX_CAP };

/**
 * An isolate-wide cache in front of an admission authority. A device once admitted stays admitted,
 * so admitted pairs are remembered. A "no" can only be remembered once the release's set is closed
 * (cap reached or window over): the first answer saying so fetches the final member set once, and
 * from then on every question about that release is answered from memory.
 *
 * Only values are shared between requests, never promises: the Workers runtime forbids one request
 * from awaiting I/O started by another. A members fetch in flight is marked by a flag, so other
 * requests ask the authority meanwhile instead of fetching the set again.
 */
export function cachedAdmissionGate(
  inner: AdmissionAuthority,
  limits: AdmissionCacheLimits = DEFAULT_ADMISSION_CACHE_LIMITS,
  budget?: MemoryBudget,
): AdmissionGate {
  const pairs = new Set<string>();
  const closedSets = new Map<string, Set<string>>();
  const fetching = new Set<string>();
  // Releases whose closed set is larger than maxMembers: never fetched again (bounded FIFO).
  const oversize = new Set<string>();
  let held = 0;

  const bounded = (set: Set<string>, value: string, max: number) => {
    set.add(value);
    if (set.size <= max) return;
    const oldest = set.values().next();
    if (!oldest.done) set.delete(oldest.value);
  };

  const rememberSet = (releaseId: string, members: string[]) => {
    if (members.length > limits.maxMembers) return bounded(oversize, releaseId, MAX_OVERSIZE);
    if (closedSets.has(releaseId)) return;
    for (const [id, set] of closedSets) {
      if (held + members.length <= limits.maxMembers) break;
      closedSets.delete(id);
      held -= set.size;
    }
    closedSets.set(releaseId, new Set(members));
    held += members.length;
  };

  const fetchClosedSet = async (releaseId: string) => {
    if (closedSets.has(releaseId) || fetching.has(releaseId) || oversize.has(releaseId)) return;
    fetching.add(releaseId);
    try {
      rememberSet(releaseId, await inner.members(releaseId));
    } catch {
      // The answer in hand is still right; a later request retries the fetch.
    } finally {
      fetching.delete(releaseId);
    }
  };

  // A member of the isolate's memory budget: under pressure the oldest closed sets go first, then the
  // oldest admitted pairs (both only cost a question to the authority when needed again).
  budget?.join({
    name: "admissions",
    held: () => pairs.size * PAIR_BYTES + held * MEMBER_BYTES,
    shrinkTo(bytes) {
      for (const [id, set] of closedSets) {
        if (pairs.size * PAIR_BYTES + held * MEMBER_BYTES <= bytes) return;
        closedSets.delete(id);
        held -= set.size;
      }
      for (const key of pairs) {
        if (pairs.size * PAIR_BYTES + held * MEMBER_BYTES <= bytes) return;
        pairs.delete(key);
      }
    },
  });

  const known = (releaseId: string, deviceId: string): Admission => {
    const set = closedSets.get(releaseId);
    if (set) return set.has(deviceId) ? "admitted" : "not_admitted";
    return pairs.has(`${releaseId}\u0000${deviceId}`) ? "admitted" : "unknown";
  };
  const ask = async (releaseId: string, deviceId: string, question: () => Promise<AdmissionAnswer>) => {
    const set = closedSets.get(releaseId);
    if (set) return { admitted: set.has(deviceId), closed: true };
    const key = `${releaseId}\u0000${deviceId}`;
    if (pairs.has(key)) return { admitted: true, closed: false };
    const answer = await question();
    if (answer.admitted) bounded(pairs, key, limits.maxPairs);
    if (answer.closed) await fetchClosedSet(releaseId);
    budget?.charged();
    return answer;
  };

  return {
    admit: (releaseId, deviceId, window, now) =>
      ask(releaseId, deviceId, () => inner.admit(releaseId, deviceId, window, now)),
    lookup: (releaseId, deviceId) => ask(releaseId, deviceId, () => inner.lookup(releaseId, deviceId)),
    ...(inner.count ? { count: inner.count } : {}),
    known,
  };
}
