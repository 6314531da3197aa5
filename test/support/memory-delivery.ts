// Delivery state in memory for unit tests of the check's logic (the decision, outages, geography):
// the real isolate cache (edge/delivery-cache.ts) over a store that keeps a Snapshot's mini programs
// as parts. Integration tests use the real KV, R2, Cache API and Durable Object instead.
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
  /** Calls of each read, for tests that count them. */
  reads: { head: number; bucket: number; part: number };
  /** Replaces the whole stored state with `snapshot`'s (a new head version). */
  load(snapshot: Snapshot | null): void;
}

const bytes = (v: unknown) => JSON.stringify(v).length;

export function memoryDeliveryStore(snapshot: Snapshot | null): MemoryDeliveryStore {
  let head: DeliveryHead | null = null;
  let indexes = new Map<number, BucketIndex>();
  const parts = new Map<string, DeliveryPart>();
  const reads = { head: 0, bucket: 0, part: 0 };
  const store: MemoryDeliveryStore = {
    reads,
    load(s) {
      if (s === null) {
        head = null;
        indexes = new Map();
        return;
      }
      const version = (head?.version ?? 0) + 1;
      const buckets = new Array<number>(DELIVERY_BUCKETS).fill(0);
      indexes = new Map();
      for (const [key, mp] of Object.entries(s.miniPrograms)) {
        const b = bucketOf(key);
        buckets[b] = version;
        const index: BucketIndex = indexes.get(b) ?? { bucket: b, version, parts: {}, bytes: {} };
        const part: DeliveryPart = { format: 2, key, version, mp };
        index.parts[key] = version;
        index.bytes[key] = bytes(part);
        indexes.set(b, index);
        parts.set(`${key}@${version}`, part);
      }
      const lists: Record<string, HeadList> = {};
      for (const [id, l] of Object.entries(s.lists)) lists[id] = { ...l, version: 1 };
      head = { format: 2, appKey: s.appKey, env: s.env, version, builtAt: s.builtAt, buckets, lists };
    },
    async putPart() {},
    async ceiling() {
      return head?.version ?? 0;
    },
    async publish() {
      throw new Error("not in memory");
    },
    async head() {
      reads.head += 1;
      return { value: head, bytes: bytes(head) };
    },
    async bucket(_a, _e, bucket) {
      reads.bucket += 1;
      const index = indexes.get(bucket) ?? { bucket, version: 0, parts: {}, bytes: {} };
      return { value: index, bytes: bytes(index) };
    },
    async part(_a, _e, key, version) {
      reads.part += 1;
      const part = parts.get(`${key}@${version}`);
      return part === undefined ? null : { value: part, bytes: bytes(part) };
    },
  };
  store.load(snapshot);
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
