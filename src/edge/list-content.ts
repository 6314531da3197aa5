import type { ListContentStore, ShardLookup } from "../usecases/ports";

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

/**
 * List sources in R2 and shards in KV. Shard keys carry the random content key, so they are immutable
 * and an isolate may cache them without ever revalidating. The cache is bounded by the characters it
 * holds (least recently used out): the default, 24 Mi characters, holds two whole 1,000,000-id lists.
 */
export function listContentStore(bucket: R2Bucket, kv: KVNamespace, maxChars = 24 * 1024 * 1024): ListContentStore {
  const cache = new Map<string, ShardLookup & { chars: number }>();
  let chars = 0;
  return {
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
    cachedShard(contentKey, shard) {
      if (contentKey === "") return EMPTY;
      const key = shardKey(contentKey, shard);
      const hit = cache.get(key);
      if (hit) {
        cache.delete(key);
        cache.set(key, hit);
      }
      return hit;
    },
    async getShard(contentKey, shard) {
      const hit = this.cachedShard?.(contentKey, shard);
      if (hit) return hit;
      const key = shardKey(contentKey, shard);
      const loaded = sortedShard((await kv.get(key, { cacheTtl: 3600 })) ?? "");
      cache.set(key, loaded);
      chars += loaded.chars;
      for (const [oldest, value] of cache) {
        if (chars <= maxChars || oldest === key) break;
        cache.delete(oldest);
        chars -= value.chars;
      }
      return loaded;
    },
  };
}
