import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listContentStore } from "../../src/edge/list-content";
import { MemoryBudget } from "../../src/edge/memory-budget";
import { uniqueKey } from "../support/workspace";

describe("the isolate's list shard cache (local KV)", () => {
  it("stays within its memory budget and gives a shard hit since the last eviction a second chance", async () => {
    // Three shards of 9 characters ("a-1\na-2\na-3"-like bodies) in a cache of 20 characters: two fit.
    const store = listContentStore(env.PACKAGES, env.SNAPSHOTS, new MemoryBudget(20));
    const content = uniqueKey("list");
    await store.putShards(content, ["s0-1\ns0-2", "s1-1\ns1-2", "s2-1\ns2-2"]);
    expect(store.cachedShard?.(content, 0)).toBeUndefined();
    expect((await store.getShard(content, 0)).has("s0-2")).toBe(true);
    expect((await store.getShard(content, 1)).has("s1-1")).toBe(true);
    // A check hits shard 0 again; shard 1 is not used since.
    expect(store.cachedShard?.(content, 0)?.has("s0-1")).toBe(true);
    // Loading shard 2 goes over budget: shard 1 (no hit) goes, shard 0 (hit) stays.
    expect((await store.getShard(content, 2)).has("s2-2")).toBe(true);
    expect(store.cachedShard?.(content, 1)).toBeUndefined();
    expect(store.cachedShard?.(content, 0)).toBeDefined();
    expect(store.cachedShard?.(content, 2)).toBeDefined();
    // (Those lookups marked shards 0 and 2.) Loading shard 1 again still keeps two shards, the new one among them.
    expect((await store.getShard(content, 1)).has("s1-2")).toBe(true);
    const held = [0, 1, 2].filter((n) => store.cachedShard?.(content, n) !== undefined);
    expect(held).toHaveLength(2);
    expect(held).toContain(1);
  });

  it("an empty list needs no shard", async () => {
    const store = listContentStore(env.PACKAGES, env.SNAPSHOTS, new MemoryBudget(20));
    expect(store.cachedShard?.("", 0)?.has("x")).toBe(false);
  });
});
