import type { ListContentStore, ShardLookup } from "../usecases/ports";
import { within } from "./deadline";
import type { MemoryBudget } from "./memory-budget";

/**
 * Time limit of one shard read on the check path (ms). On expiry the lookup fails: a denylist keeps
 * the device out of the canary, an allowlist admits nobody, for this check only (nothing is cached).
 */
export const SHARD_TIME_LIMIT_MS = 1000;

const sourceKey = (contentKey: string) => `allowlists/${contentKey}.txt`;
const shardKey = (contentKey: string, shard: number) => `list:${contentKey}:${shard}`;

/**
 * Membership by binary search over a shard body as stored: ids sorted by UTF-16 code units and
 * joined by newlines. Keeping the one string (instead of building a Set) makes loading a shard
 * nearly free and keeps its memory at its own size.
 */
export function sortedShard(body: string): ShardLookup & { chars: number } {
  return {
    chars: body.length,
    has(id) {
      let lo = 0;
      let hi = body.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const start = body.lastIndexOf("\n", mid - 1) + 1;
        let end = body.indexOf("\n", start);
        if (end === -1) end = body.length;
        const line = body.slice(start, end);
        if (line === id) return true;
        if (line < id) lo = end + 1;
        else hi = start - 1;
      }
      return false;
    },
  };
}

const EMPTY = sortedShard("");

/** A cached shard; `recent` is set by a hit and cleared when eviction passes over it. */
type Cached = ShardLookup & { chars: number; recent: boolean };

/**
 * List sources in R2 and shards in KV. Shard keys carry the random content key, so they are immutable
 * and an isolate may cache them without ever revalidating. The cache is a member of the isolate's
 * memory budget, charged a byte per character held (ids are ASCII: one-byte strings). Eviction is
 * "second chance" (an approximation of least recently used): a hit only marks its shard, where a
 * true LRU would reorder the map on every check; evicting skips a marked shard once, clearing its mark.
 */
export function listContentStore(
  bucket: R2Bucket,
  kv: KVNamespace,
  budget: MemoryBudget,
): ListContentStore & { clear(): void } {
  const cache = new Map<string, Cached>();
  let chars = 0;
  let keep = "";
  budget.join({
    name: "lists",
    held: () => chars,
    shrinkTo(bytes) {
      for (let pass = 0; pass < 2 && chars > bytes; pass++) {
        for (const [key, shard] of cache) {
          if (chars <= bytes) return;
          if (key === keep) continue;
          if (shard.recent) shard.recent = false;
          else {
            cache.delete(key);
            chars -= shard.chars;
          }
        }
      }
    },
  });
  return {
    /** Drops every cached shard (the bench's cold isolate). */
    clear() {
      cache.clear();
      chars = 0;
    },
    async putSource(contentKey, text) {
      await bucket.put(sourceKey(contentKey), text, { httpMetadata: { contentType: "text/plain" } });
    },
    async getSource(contentKey) {
      const obj = await bucket.get(sourceKey(contentKey));
      return obj === null ? null : obj.text();
    },
    async putShards(contentKey, shards) {
      // In small groups: local and remote KV both prefer a bounded number of writes in flight.
      for (let i = 0; i < shards.length; i += 16) {
        await Promise.all(shards.slice(i, i + 16).map((body, j) => kv.put(shardKey(contentKey, i + j), body)));
      }
    },
    async removeContent(contentKey, shardCount) {
      if (contentKey === "") return;
      await bucket.delete(sourceKey(contentKey));
      for (let i = 0; i < shardCount; i += 16) {
        const group = Array.from({ length: Math.min(16, shardCount - i) }, (_, j) => shardKey(contentKey, i + j));
        await Promise.all(group.map((key) => kv.delete(key)));
        for (const key of group) cache.delete(key);
      }
    },
    cachedShard(contentKey, shard) {
      if (contentKey === "") return EMPTY;
      const hit = cache.get(shardKey(contentKey, shard));
      if (hit) hit.recent = true;
      return hit;
    },
    async getShard(contentKey, shard) {
      const hit = this.cachedShard?.(contentKey, shard);
      if (hit) return hit;
      const key = shardKey(contentKey, shard);
      // Every shard is written, empty ones included (buildShards): a missing one is missing data, not
      // an empty shard, and must not be cached as one (a denylist would fail open).
      const body = await within(SHARD_TIME_LIMIT_MS, "an allowlist shard", kv.get(key, { cacheTtl: 3600 }));
      if (body === null) throw new Error(`list shard ${key} is missing`);
      const loaded: Cached = { ...sortedShard(body), recent: false };
      if (!cache.has(key)) chars += loaded.chars;
      cache.set(key, loaded);
      // The shard just loaded is the one this check needs: never the one evicted for it.
      keep = key;
      budget.charged();
      keep = "";
      return loaded;
    },
  };
}
