import {
  type BucketIndex,
  bucketOf,
  type CompiledPart,
  type DeliveryChange,
  type DeliveryHead,
  MAX_CHECK_PART_BYTES,
  readsGeography,
} from "../domain/delivery";
import { AppError } from "../domain/errors";
import type { SnapshotMiniProgram } from "../domain/snapshot";
import type { Clock, Delivery, DeliveryStore, DeliveryView, PublishStats } from "../usecases/ports";
import type { BudgetMember, MemoryBudget } from "./memory-budget";

export interface DeliveryCacheOptions {
  /** How long a head is used before the store is asked again (the isolate's poll interval). */
  pollMs: number;
  /**
   * Past this age (no head confirmed for that long: the store is unreachable) canary releases are
   * withheld; full and rollback releases are still delivered from the copy in hand.
   */
  maxStaleMs: number;
  /**
   * Delivery data (parts as stored JSON) one check may use; a check asking for more is refused with
   * CHECK_TOO_LARGE before any part is read, whatever the isolate holds.
   */
  checkMaxBytes: number;
}

export const DEFAULT_DELIVERY_CACHE: DeliveryCacheOptions = {
  pollMs: 1000,
  maxStaleMs: 60_000,
  checkMaxBytes: MAX_CHECK_PART_BYTES,
};

/** Targets an isolate keeps at most (their heads are a few KB each); the oldest goes first. */
export const MAX_CACHED_TARGETS = 1024;
/** A refresh still running after this long no longer stops other requests from refreshing. */
const REFRESH_TIMEOUT_MS = 10_000;
/** Parts fetched at once by one check. */
const FETCH_WAVE = 32;
/** Parts written at once by one publish (a whole target's, when it is rebuilt). */
const PUBLISH_WAVE = 64;
/**
 * Heap bytes per byte of stored JSON, for the memory budget: parsed objects and the memos built on
 * them (compiled targeting, answer fragments, version ranks). Calibrated with `npm run bench`, which
 * prints the real heap with the caches full next to this accounting (docs/performance.md).
 */
export const HEAP_PER_JSON_BYTE = 2;
/**
 * Characters of JSON of the distinct configurations and targetings shared between parts; the table is
 * emptied when full. It holds what it shares (RESERVED_CACHE_BYTES.interned), so a part is charged
 * only for what it does not share.
 */
const MAX_INTERNED_CHARS = 2 * 1024 * 1024;
/**
 * What a part is charged: its JSON bytes less what it shares with what the isolate holds already
 * (charged to the shared table's reservation), at least 1 KB, in heap bytes.
 */
const charge = (json: number, shared: number) => Math.max(json - shared, 1024) * HEAP_PER_JSON_BYTE;
/** What an entry for a mini program the target does not have costs. */
const ABSENT_ENTRY_BYTES = 96;

interface PartEntry {
  bucket: number;
  /** Part version held (-1: the target has no such mini program). */
  version: number;
  /** The head's bucket version this entry was confirmed current against (-1: not confirmed). */
  seenAt: number;
  mp: SnapshotMiniProgram | undefined;
  geography: boolean;
  /** The part's size as stored JSON (0 for an absent mini program): what the check bound counts. */
  json: number;
  /** Heap bytes charged to the memory budget. */
  bytes: number;
  recent: boolean;
}

interface Views {
  plain: DeliveryView;
  geography: DeliveryView;
  withheld: DeliveryView;
  withheldGeography: DeliveryView;
}

interface Target {
  appKey: string;
  env: string;
  /** undefined: never read; null: the target has no delivery state. */
  head: DeliveryHead | null | undefined;
  views: Views | null;
  headBytes: number;
  checkedAt: number;
  refreshingSince: number;
  buckets: Map<number, { index: BucketIndex; bytes: number; recent: boolean }>;
  parts: Map<string, PartEntry>;
}

const unavailable = () =>
  new AppError("SERVICE_UNAVAILABLE", "Delivery data cannot be read right now; retry in a few seconds.");

function viewsOf(head: DeliveryHead): Views {
  const v = (geography: boolean, withholdCanaries: boolean): DeliveryView => ({
    version: head.version,
    lists: head.lists,
    geography,
    withholdCanaries,
  });
  return {
    plain: v(false, false),
    geography: v(true, false),
    withheld: v(false, true),
    withheldGeography: v(true, true),
  };
}

/**
 * The isolate's delivery state: heads, bucket indexes and parts of the targets its checks ask about,
 * each read only when asked for and kept within the isolate's memory budget (cold entries evicted).
 *
 * Freshness: a head is used for `pollMs`; then one request per target refreshes it — in the
 * background (`defer`) while the copy in hand is younger than `maxStaleMs`, else awaited — and a
 * part is used only while its bucket's version in the head is the one it was confirmed against.
 * A changed bucket costs one bucket index read; only parts whose version changed are read again.
 *
 * Only values are shared between requests, never promises: the Workers runtime forbids one request
 * from awaiting I/O started by another.
 */
export function deliveryCache(
  store: DeliveryStore,
  clock: Clock,
  budget: MemoryBudget,
  options: DeliveryCacheOptions = DEFAULT_DELIVERY_CACHE,
): Delivery & {
  stats(): { fetchedBytes: number; heldBytes: number; targets: number; parts: number };
  clear(): void;
} {
  const targets = new Map<string, Target>();
  let held = 0;
  // Configurations and targeting repeat across mini programs (the same rules, lists, switches): a part
  // read shares the objects already held for an equal one, so each is held, and compiled, once.
  const interned = new Map<string, object>();
  let internedChars = 0;
  /** Interns a part's configurations and targeting; returns the JSON bytes the part did not add. */
  const intern = (mp: SnapshotMiniProgram): number => {
    let shared = 0;
    const one = <T extends object>(value: T): T => {
      const key = JSON.stringify(value);
      const hit = interned.get(key);
      if (hit !== undefined) {
        shared += key.length;
        return hit as T;
      }
      if (internedChars + key.length > MAX_INTERNED_CHARS) {
        interned.clear();
        internedChars = 0;
      }
      interned.set(key, value);
      internedChars += key.length;
      return value;
    };
    for (const release of mp.releases) {
      release.config = one(release.config);
      if (release.targeting !== null) release.targeting = one(release.targeting);
    }
    return shared;
  };
  let fetchedBytes = 0;

  const targetOf = (appKey: string, env: string): Target => {
    const k = `${appKey}\u0000${env}`;
    let t = targets.get(k);
    if (t === undefined) {
      if (targets.size >= MAX_CACHED_TARGETS) {
        const oldest = targets.entries().next().value;
        if (oldest !== undefined) dropTarget(oldest[0], oldest[1]);
      }
      t = {
        appKey,
        env,
        head: undefined,
        views: null,
        headBytes: 0,
        checkedAt: Number.NEGATIVE_INFINITY,
        refreshingSince: 0,
        buckets: new Map(),
        parts: new Map(),
      };
      targets.set(k, t);
    }
    return t;
  };

  const dropTarget = (k: string, t: Target) => {
    targets.delete(k);
    held -= t.headBytes;
    for (const b of t.buckets.values()) held -= b.bytes;
    for (const p of t.parts.values()) held -= p.bytes;
  };

  const acceptHead = (t: Target, head: DeliveryHead | null, bytes: number) => {
    const current = t.head;
    // An older head never replaces a newer one (the location cache may lag this isolate's own publish).
    if (current !== undefined && current !== null && (head === null || head.version <= current.version)) return;
    held += bytes * HEAP_PER_JSON_BYTE - t.headBytes;
    t.headBytes = bytes * HEAP_PER_JSON_BYTE;
    t.head = head;
    t.views = head === null ? null : viewsOf(head);
    budget.charged();
  };

  const refreshHead = async (t: Target) => {
    t.refreshingSince = clock.now();
    try {
      const { value, bytes } = await store.head(t.appKey, t.env);
      fetchedBytes += bytes;
      acceptHead(t, value, bytes);
      t.checkedAt = clock.now();
    } finally {
      t.refreshingSince = 0;
    }
  };

  const setPart = (t: Target, key: string, entry: PartEntry) => {
    const old = t.parts.get(key);
    if (old !== undefined) held -= old.bytes;
    t.parts.set(key, entry);
    held += entry.bytes;
  };

  const viewFor = (t: Target, geography: boolean, now: number): DeliveryView => {
    const views = t.views as Views;
    const withheld = now - t.checkedAt >= options.maxStaleMs;
    if (withheld) return geography ? views.withheldGeography : views.withheld;
    return geography ? views.geography : views.plain;
  };

  /** The bucket index at least as new as `version`: held, or fetched once per check. */
  const bucketIndex = async (
    t: Target,
    bucket: number,
    version: number,
    asked: Map<number, Promise<BucketIndex>>,
  ): Promise<BucketIndex> => {
    const heldIndex = t.buckets.get(bucket);
    if (heldIndex !== undefined && heldIndex.index.version >= version) {
      heldIndex.recent = true;
      return heldIndex.index;
    }
    let asking = asked.get(bucket);
    if (asking === undefined) {
      asking = store.bucket(t.appKey, t.env, bucket, version).then(({ value, bytes }) => {
        fetchedBytes += bytes;
        const before = t.buckets.get(bucket);
        if (before === undefined || before.index.version < value.version) {
          held += bytes * HEAP_PER_JSON_BYTE - (before?.bytes ?? 0);
          t.buckets.set(bucket, { index: value, bytes: bytes * HEAP_PER_JSON_BYTE, recent: true });
        }
        return value;
      });
      asked.set(bucket, asking);
    }
    return asking;
  };

  /** A part a check has to read: where it is and how large. */
  interface Fetch {
    key: string;
    bucket: number;
    /** The head's version of the bucket, which the part is confirmed against once read. */
    seenAt: number;
    version: number;
    bytes: number;
    /** What the isolate holds for the key (an older part), served if the read fails. */
    held: PartEntry | undefined;
  }

  const absent = (bucket: number, seenAt: number): PartEntry => ({
    bucket,
    version: -1,
    seenAt,
    mp: undefined,
    geography: false,
    json: 0,
    bytes: ABSENT_ENTRY_BYTES,
    recent: true,
  });

  /**
   * One asked mini program not confirmed current: its entry, once its bucket index (read if its
   * version changed) shows that what is held is still current or that the target has no such mini
   * program; else the part to read.
   */
  const plan = async (
    t: Target,
    head: DeliveryHead,
    key: string,
    indexes: Map<number, Promise<BucketIndex>>,
  ): Promise<PartEntry | Fetch> => {
    const bucket = bucketOf(key);
    const seenAt = head.buckets[bucket] ?? 0;
    const held = t.parts.get(key);
    if (seenAt === 0) {
      const entry = absent(bucket, 0);
      setPart(t, key, entry);
      return entry;
    }
    let index: BucketIndex;
    try {
      index = await bucketIndex(t, bucket, seenAt, indexes);
    } catch (error) {
      // Unreachable: an entry held from before is still the best answer (within the stale bound).
      if (held !== undefined) return held;
      throw error;
    }
    const version = Object.hasOwn(index.parts, key) ? (index.parts[key] as number) : -1;
    if (held !== undefined && held.version === version) {
      held.seenAt = seenAt;
      held.recent = true;
      return held;
    }
    if (version === -1) {
      const entry = absent(bucket, seenAt);
      setPart(t, key, entry);
      return entry;
    }
    return { key, bucket, seenAt, version, bytes: index.bytes?.[key] ?? 0, held };
  };

  /** Reads a planned part (the held older one if that fails, else the failure). */
  const fetchPart = async (t: Target, f: Fetch): Promise<PartEntry> => {
    let part: Awaited<ReturnType<DeliveryStore["part"]>>;
    try {
      part = await store.part(t.appKey, t.env, f.key, f.version);
      if (part === null) throw new Error(`delivery part ${f.key}@${f.version} is missing`);
    } catch (error) {
      if (f.held !== undefined) return f.held;
      throw error;
    }
    fetchedBytes += part.bytes;
    const mp = part.value.mp;
    const shared = intern(mp);
    const loaded: PartEntry = {
      bucket: f.bucket,
      version: f.version,
      seenAt: f.seenAt,
      mp,
      geography: readsGeography(mp),
      json: part.bytes,
      bytes: charge(part.bytes, shared),
      recent: true,
    };
    // A concurrent request may have stored a newer one meanwhile.
    const current = t.parts.get(f.key);
    if (current === undefined || current.version <= f.version) setPart(t, f.key, loaded);
    return loaded;
  };

  const member: BudgetMember = {
    name: "delivery",
    held: () => held,
    shrinkTo(bytes) {
      // Second chance over every target's parts, then bucket indexes: an entry used since the last
      // pass is spared once.
      for (let pass = 0; pass < 2 && held > bytes; pass++) {
        for (const t of targets.values()) {
          for (const [key, p] of t.parts) {
            if (held <= bytes) return;
            if (p.recent) p.recent = false;
            else {
              t.parts.delete(key);
              held -= p.bytes;
            }
          }
          for (const [b, idx] of t.buckets) {
            if (held <= bytes) return;
            if (idx.recent) idx.recent = false;
            else {
              t.buckets.delete(b);
              held -= idx.bytes;
            }
          }
        }
      }
    },
  };
  budget.join(member);

  return {
    peek(appKey, env, asked, out) {
      const t = targets.get(`${appKey}\u0000${env}`);
      if (t === undefined || t.head === undefined) return undefined;
      const now = clock.now();
      if (now - t.checkedAt >= options.pollMs) return undefined;
      const head = t.head;
      if (head === null) return null;
      const buckets = head.buckets;
      let geography = false;
      let total = 0;
      for (let i = 0; i < asked.length; i++) {
        const p = t.parts.get((asked[i] as { id: string }).id);
        if (p === undefined || buckets[p.bucket] !== p.seenAt) return undefined;
        p.recent = true;
        out[i] = p.mp;
        total += p.json;
        if (p.geography) geography = true;
      }
      // Possibly over the check's bound (repeated entries count once there): load decides.
      if (total > options.checkMaxBytes) return undefined;
      const views = t.views as Views;
      return geography ? views.geography : views.plain;
    },

    async load(appKey, env, asked, out, defer) {
      const t = targetOf(appKey, env);
      const now = clock.now();
      if (t.head === undefined) {
        try {
          await refreshHead(t);
        } catch {
          throw unavailable();
        }
      } else if (now - t.checkedAt >= options.pollMs) {
        const idle = t.refreshingSince === 0 || now - t.refreshingSince >= REFRESH_TIMEOUT_MS;
        if (idle) {
          // Failures keep the copy in hand; the next request past the poll interval tries again.
          const work = refreshHead(t).catch(() => {});
          if (defer !== undefined && now - t.checkedAt < options.maxStaleMs) defer(work);
          else await work;
        }
      }
      const head = t.head;
      if (head === null || head === undefined) return null;
      let geography = false;
      // What the check uses, in JSON bytes: every distinct asked part, held or read.
      let total = 0;
      const counted = new Set<string>();
      const pending: number[] = [];
      for (let i = 0; i < asked.length; i++) {
        const key = (asked[i] as { id: string }).id;
        const p = t.parts.get(key);
        if (p !== undefined && head.buckets[p.bucket] === p.seenAt) {
          p.recent = true;
          out[i] = p.mp;
          if (p.geography) geography = true;
          if (!counted.has(key)) {
            counted.add(key);
            total += p.json;
          }
        } else pending.push(i);
      }
      try {
        const indexes = new Map<number, Promise<BucketIndex>>();
        const plans = new Map<string, Promise<PartEntry | Fetch>>();
        for (const i of pending) {
          const key = (asked[i] as { id: string }).id;
          if (!plans.has(key)) plans.set(key, plan(t, head, key, indexes));
        }
        const planned = new Map<string, PartEntry | Fetch>();
        const fetches: Fetch[] = [];
        for (const [key, p] of plans) {
          const outcome = await p;
          planned.set(key, outcome);
          if (counted.has(key)) continue;
          counted.add(key);
          if ("held" in outcome) {
            fetches.push(outcome);
            total += outcome.bytes;
          } else total += outcome.json;
        }
        if (total > options.checkMaxBytes) {
          throw new AppError(
            "CHECK_TOO_LARGE",
            `The asked mini programs' delivery data is ${total} bytes, more than one check may use (${options.checkMaxBytes}): ask about fewer mini programs per check.`,
          );
        }
        const loaded = new Map<string, PartEntry>();
        for (let w = 0; w < fetches.length; w += FETCH_WAVE) {
          const wave = fetches.slice(w, w + FETCH_WAVE);
          const entries = await Promise.all(wave.map((f) => fetchPart(t, f)));
          for (let k = 0; k < wave.length; k++) loaded.set((wave[k] as Fetch).key, entries[k] as PartEntry);
        }
        for (const i of pending) {
          const key = (asked[i] as { id: string }).id;
          const outcome = planned.get(key) as PartEntry | Fetch;
          const p = "held" in outcome ? (loaded.get(key) as PartEntry) : outcome;
          out[i] = p.mp;
          if (p.geography) geography = true;
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        throw unavailable();
      } finally {
        budget.charged();
      }
      return viewFor(t, geography, clock.now());
    },

    ceiling: (appKey, env) => store.ceiling(appKey, env),

    async publish(appKey, env, parts: readonly CompiledPart[], change: DeliveryChange): Promise<PublishStats> {
      let bytesWritten = 0;
      // In small groups: local and remote stores both prefer a bounded number of writes in flight.
      for (let i = 0; i < parts.length; i += PUBLISH_WAVE) {
        await Promise.all(
          parts.slice(i, i + PUBLISH_WAVE).map(({ part, json }) => {
            bytesWritten += 2 * json.length;
            return store.putPart(appKey, env, part.key, part.version, json);
          }),
        );
      }
      bytesWritten += JSON.stringify(change).length;
      const head = await store.publish(appKey, env, change);
      const t = targetOf(appKey, env);
      acceptHead(t, head, JSON.stringify(head).length);
      t.checkedAt = clock.now();
      for (const { part, json } of parts) {
        const entry = t.parts.get(part.key);
        if (entry !== undefined && entry.version > part.version) continue;
        // Held (sharing equal configurations and targeting, as a part read would), but confirmed only
        // against the next bucket index read: a concurrent publish may have made a newer part current.
        const shared = intern(part.mp);
        setPart(t, part.key, {
          bucket: bucketOf(part.key),
          version: part.version,
          seenAt: -1,
          mp: part.mp,
          geography: readsGeography(part.mp),
          json: json.length,
          bytes: charge(json.length, shared),
          recent: true,
        });
      }
      budget.charged();
      return { parts: parts.length, bytesWritten, head };
    },

    stats() {
      let count = 0;
      for (const t of targets.values()) count += t.parts.size;
      return { fetchedBytes, heldBytes: held, targets: targets.size, parts: count };
    },
    clear() {
      for (const [k, t] of [...targets]) dropTarget(k, t);
    },
  };
}
