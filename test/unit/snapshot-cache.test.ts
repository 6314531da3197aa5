import { describe, expect, it } from "vitest";
import type { Snapshot } from "../../src/domain/snapshot";
import { cachedSnapshotStore } from "../../src/edge/snapshot-cache";
import type { SnapshotStore } from "../../src/usecases/ports";

const snap = (version: number): Snapshot => ({
  format: 1,
  appKey: "a",
  env: "prod",
  version,
  builtAt: 0,
  miniPrograms: {},
  lists: {},
});

/** An in-memory snapshot store that counts reads (a port fake; the KV adapter is tested in workerd). */
function memoryStore() {
  let stored: Snapshot | null = null;
  let reads = 0;
  const store: SnapshotStore = {
    get: async () => {
      reads += 1;
      return stored;
    },
    put: async (s) => {
      stored = s;
    },
  };
  return { store, reads: () => reads, set: (s: Snapshot) => (stored = s) };
}

describe("isolate snapshot cache", () => {
  it("serves from memory within the TTL and reads again after it", async () => {
    let now = 1000;
    const mem = memoryStore();
    mem.set(snap(1));
    const cache = cachedSnapshotStore(mem.store, { now: () => now }, 1000);
    expect((await cache.get("a", "prod"))?.version).toBe(1);
    mem.set(snap(2));
    now += 999;
    expect((await cache.get("a", "prod"))?.version).toBe(1);
    expect(mem.reads()).toBe(1);
    now += 1;
    expect((await cache.get("a", "prod"))?.version).toBe(2);
    expect(mem.reads()).toBe(2);
  });

  it("writes through at once and never goes back to an older snapshot", async () => {
    let now = 0;
    const mem = memoryStore();
    const cache = cachedSnapshotStore(mem.store, { now: () => now }, 1000);
    await cache.put(snap(5));
    expect((await cache.get("a", "prod"))?.version).toBe(5);
    mem.set(snap(4)); // a stale copy, as an eventually consistent store may return
    now += 5000;
    expect((await cache.get("a", "prod"))?.version).toBe(5);
  });
});
