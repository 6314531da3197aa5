import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Snapshot } from "../../src/domain/snapshot";
import { kvSnapshotStore } from "../../src/edge/kv-snapshots";
import { cachedSnapshotStore } from "../../src/edge/snapshot-cache";
import { uniqueKey } from "../support/workspace";

const snapshot = (appKey: string, version: number): Snapshot => ({
  format: 1,
  appKey,
  env: "prod",
  version,
  builtAt: version,
  miniPrograms: {},
  lists: {},
});

describe("snapshots in local KV", () => {
  it("stores the version key with the snapshot, and has none for an unknown app", async () => {
    const store = kvSnapshotStore(env.SNAPSHOTS);
    const app = uniqueKey("app");
    expect(await store.version(app, "prod")).toBeNull();
    await store.put(snapshot(app, 7));
    expect(await store.version(app, "prod")).toBe(7);
    expect((await store.get(app, "prod"))?.version).toBe(7);
  });

  it("an isolate cache re-reads the snapshot only when another writer changed its version", async () => {
    const writer = kvSnapshotStore(env.SNAPSHOTS); // another isolate, as far as the cache knows
    let now = 0;
    const cache = cachedSnapshotStore(kvSnapshotStore(env.SNAPSHOTS), { now: () => now }, 1000);
    const app = uniqueKey("app");
    await writer.put(snapshot(app, 1));
    const first = await cache.get(app, "prod");
    expect(first?.version).toBe(1);
    now += 1000;
    // Unchanged version: the very same object is kept (its memos stay warm).
    expect(await cache.get(app, "prod")).toBe(first);
    await writer.put(snapshot(app, 2));
    expect(await cache.get(app, "prod")).toBe(first); // within the TTL
    now += 1000;
    expect((await cache.get(app, "prod"))?.version).toBe(2);
  });
});
