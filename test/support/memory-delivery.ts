// Delivery state in memory for unit tests of the check's logic (the decision, outages, geography,
// the isolate cache itself): the real isolate cache (edge/delivery-cache.ts) over a store that
// publishes a Snapshot's mini programs as parts (new parts only for those whose state changed) and
// counts every read. Integration tests use the real KV, R2, Cache API and Durable Object instead.
import {
  type BucketIndex,
  bucketOf,
  DELIVERY_BUCKETS,
  type DeliveryHead,
  type DeliveryPart,
  type HeadList,
} from "../../src/domain/delivery";
import type { Snapshot } from "../../src/domain/snapshot";
import { DEFAULT_DELIVERY_CACHE, type DeliveryCacheOptions, deliveryCache } from "../../src/edge/delivery-cache";
import { MemoryBudget } from "../../src/edge/memory-budget";
import type { Clock, DeliveryStore } from "../../src/usecases/ports";

export interface MemoryDeliveryStore extends DeliveryStore {
  reads: { head: number; bucket: number; part: number };
  /** Part reads per mini program key, bucket index reads per bucket. */
  partReads: Map<string, number>;
  bucketReads: Map<number, number>;
  /** Publishes `snapshot`: a new head; new parts only for mini programs whose state changed. */
  load(snapshot: Snapshot): void;
  /** Every head published so far, oldest first. */
  heads: DeliveryHead[];
  fail: { head: boolean; bucket: boolean };
  /** Parts (`key@version`) the store answers null for. */
  lost: Set<string>;
  /** While set, head() answers only once this settles. */
  gate: Promise<void> | null;
  /** While set, head() answers this instead of the newest head (a location cache that lags). */
  serve: DeliveryHead | null;
}

/** A value's size as stored JSON. */
export const size = (v: unknown) => JSON.stringify(v).length;

export function memoryDeliveryStore(initial: Snapshot | null): MemoryDeliveryStore {
  let head: DeliveryHead | null = null;
  const indexes = new Map<number, BucketIndex>();
  const parts = new Map<string, DeliveryPart>();
  const current = new Map<string, { version: number; json: string }>();
  const count = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
  const store: MemoryDeliveryStore = {
    reads: { head: 0, bucket: 0, part: 0 },
    partReads: new Map(),
    bucketReads: new Map(),
    heads: [],
    fail: { head: false, bucket: false },
    lost: new Set(),
    gate: null,
    serve: null,
    load(s) {
      const version = (head?.version ?? 0) + 1;
      const buckets = head ? [...head.buckets] : new Array<number>(DELIVERY_BUCKETS).fill(0);
      const touch = (b: number) => {
        const before = indexes.get(b);
        const index: BucketIndex = { bucket: b, version, parts: { ...before?.parts }, bytes: { ...before?.bytes } };
        indexes.set(b, index);
        buckets[b] = version;
        return index;
      };
      for (const [key, mp] of Object.entries(s.miniPrograms)) {
        const json = JSON.stringify(mp);
        if (current.get(key)?.json === json) continue;
        current.set(key, { version, json });
        const part: DeliveryPart = { format: 2, key, version, mp };
        parts.set(`${key}@${version}`, part);
        const index = touch(bucketOf(key));
        index.parts[key] = version;
        index.bytes[key] = size(part);
      }
      for (const key of [...current.keys()]) {
        if (Object.hasOwn(s.miniPrograms, key)) continue;
        current.delete(key);
        const index = touch(bucketOf(key));
        delete index.parts[key];
        delete index.bytes[key];
      }
      const lists: Record<string, HeadList> = {};
      for (const [id, l] of Object.entries(s.lists)) lists[id] = { ...l, version: 1 };
      head = { format: 2, appKey: s.appKey, env: s.env, version, builtAt: s.builtAt, buckets, lists };
      store.heads.push(head);
    },
    async putPart() {},
    async ceiling() {
      return head?.version ?? 0;
    },
    async publish() {
      throw new Error("not in this store");
    },
    async head() {
      store.reads.head += 1;
      if (store.gate !== null) await store.gate;
      if (store.fail.head) throw new Error("head timeout");
      const value = store.serve ?? head;
      return { value, bytes: size(value) };
    },
    async bucket(_a, _e, bucket) {
      store.reads.bucket += 1;
      count(store.bucketReads, bucket);
      if (store.fail.bucket) throw new Error("bucket timeout");
      const index = indexes.get(bucket) ?? { bucket, version: 0, parts: {}, bytes: {} };
      return { value: index, bytes: size(index) };
    },
    async part(_a, _e, key, version) {
      store.reads.part += 1;
      count(store.partReads, key);
      const part = parts.get(`${key}@${version}`);
      if (part === undefined || store.lost.has(`${key}@${version}`)) return null;
      return { value: part, bytes: size(part) };
    },
  };
  if (initial !== null) store.load(initial);
  return store;
}

/** The real isolate cache over `store` (or over a memory store holding `snapshot`). */
export function memoryDelivery(
  source: Snapshot | null | DeliveryStore,
  clock: Clock = { now: () => 0 },
  options: Partial<DeliveryCacheOptions> = {},
) {
  const store = source !== null && "head" in source ? source : memoryDeliveryStore(source as Snapshot | null);
  return deliveryCache(store as DeliveryStore, clock, new MemoryBudget(64 * 1024 * 1024), {
    ...DEFAULT_DELIVERY_CACHE,
    ...options,
  });
}
