import type { ListContentStore } from "../usecases/ports";

const sourceKey = (contentKey: string) => `allowlists/${contentKey}.txt`;
const EMPTY: ReadonlySet<string> = new Set();
const shardKey = (contentKey: string, shard: number) => `list:${contentKey}:${shard}`;

/**
 * List sources in R2 and shards in KV. Shard keys carry the random content key, so they are immutable
 * and an isolate may cache them without ever revalidating. The cache holds at most `maxShards`
 * shards (least recently used out): with 4,096 ids a shard, 64 shards stay around 16 MiB.
 */
export function listContentStore(bucket: R2Bucket, kv: KVNamespace, maxShards = 64): ListContentStore {
  const cache = new Map<string, ReadonlySet<string>>();
  return {
    async putSource(contentKey, text) {
      await bucket.put(sourceKey(contentKey), text, { httpMetadata: { contentType: "text/plain" } });
    },
    async getSource(contentKey) {
      const obj = await bucket.get(sourceKey(contentKey));
      return obj === null ? null : obj.text();
    },
    async putShards(contentKey, shards) {
      // Sequential in small groups: local and remote KV both prefer a bounded number of writes in flight.
      for (let i = 0; i < shards.length; i += 16) {
        await Promise.all(shards.slice(i, i + 16).map((body, j) => kv.put(shardKey(contentKey, i + j), body)));
      }
    },
    async getShard(contentKey, shard) {
      if (contentKey === "") return EMPTY;
      const key = shardKey(contentKey, shard);
      const hit = cache.get(key);
      if (hit) {
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
      const body = await kv.get(key, { cacheTtl: 3600 });
      const set: ReadonlySet<string> = new Set(body ? body.split("\n") : []);
      cache.set(key, set);
      if (cache.size > maxShards) cache.delete(cache.keys().next().value as string);
      return set;
    },
  };
}
