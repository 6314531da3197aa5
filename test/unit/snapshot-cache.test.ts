import { describe, expect, it } from "vitest";
import type { Snapshot } from "../../src/domain/snapshot";
import { cachedSnapshotStore, MAX_CACHED_TARGETS } from "../../src/edge/snapshot-cache";
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

  it("peeks without awaiting: what get would serve within the TTL, undefined when get must ask the store", async () => {
    let now = 1000;
    const mem = memoryStore();
    mem.set(snap(1));
    const cache = cachedSnapshotStore(mem.store, { now: () => now }, 1000);
    expect(cache.peek?.("a", "prod")).toBeUndefined(); // nothing held yet
    const first = await cache.get("a", "prod");
    expect(cache.peek?.("a", "prod")).toBe(first);
    now += 999;
    expect(cache.peek?.("a", "prod")).toBe(first);
    now += 1;
    expect(cache.peek?.("a", "prod")).toBeUndefined(); // stale: the next check refreshes through get
    expect(mem.reads()).toBe(1);
    const none = cachedSnapshotStore(memoryStore().store, { now: () => now }, 1000);
    expect(await none.get("x", "prod")).toBeNull();
    expect(none.peek?.("x", "prod")).toBeNull(); // known to have none
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

  it("refreshes single-flight: requests arriving during a refresh serve the copy in hand", async () => {
    let now = 0;
    const mem = memoryStore();
    mem.set(snap(1));
    let release: () => void = () => {};
    const slow: SnapshotStore = {
      get: async (...args) => {
        await new Promise<void>((r) => {
          release = r;
        });
        return mem.store.get(...args);
      },
      put: mem.store.put,
    };
    const cache = cachedSnapshotStore(slow, { now: () => now }, 1000);
    const first = cache.get("a", "prod");
    release();
    expect((await first)?.version).toBe(1);
    mem.set(snap(2));
    now += 1000;
    const refreshing = cache.get("a", "prod");
    // Meanwhile other requests get the copy in hand without asking the store.
    expect((await cache.get("a", "prod"))?.version).toBe(1);
    expect((await cache.get("a", "prod"))?.version).toBe(1);
    release();
    expect((await refreshing)?.version).toBe(2);
    expect(mem.reads()).toBe(2);
  });

  it("asks a store that can tell its version before reading the snapshot", async () => {
    let now = 0;
    const mem = memoryStore();
    let probes = 0;
    const versioned: SnapshotStore = {
      ...mem.store,
      version: async () => {
        probes += 1;
        return (await mem.store.get("a", "prod"))?.version ?? null;
      },
    };
    mem.set(snap(1));
    const cache = cachedSnapshotStore(versioned, { now: () => now }, 1000);
    expect((await cache.get("a", "prod"))?.version).toBe(1); // nothing cached: no probe
    const readsBefore = mem.reads();
    now += 1000;
    expect((await cache.get("a", "prod"))?.version).toBe(1);
    expect(probes).toBe(1);
    mem.set(snap(3));
    now += 1000;
    expect((await cache.get("a", "prod"))?.version).toBe(3);
    expect(probes).toBe(2);
    // The probes themselves read through mem.store.get here; the snapshot was fetched only on change.
    expect(mem.reads() - readsBefore).toBe(3);
  });

  it("serves the copy in hand when the store fails, and tries again on the next request", async () => {
    let now = 0;
    const mem = memoryStore();
    mem.set(snap(1));
    let failing = false;
    const flaky: SnapshotStore = {
      get: async (...args) => {
        if (failing) throw new Error("KV unavailable");
        return mem.store.get(...args);
      },
      put: mem.store.put,
    };
    const cache = cachedSnapshotStore(flaky, { now: () => now }, 1000);
    expect((await cache.get("a", "prod"))?.version).toBe(1);
    failing = true;
    mem.set(snap(2));
    now += 1000;
    expect((await cache.get("a", "prod"))?.version).toBe(1);
    failing = false;
    expect((await cache.get("a", "prod"))?.version).toBe(2);
    // Without a copy in hand, the failure reaches the caller.
    failing = true;
    await expect(cachedSnapshotStore(flaky, { now: () => now }, 1000).get("a", "prod")).rejects.toThrow(
      "KV unavailable",
    );
  });

  it("keeps at most MAX_CACHED_TARGETS targets, dropping the oldest (found by review: made-up targets filled memory)", async () => {
    const mem = memoryStore();
    mem.set(snap(1));
    const cache = cachedSnapshotStore(mem.store, { now: () => 0 }, 1000);
    await cache.get("a", "prod");
    for (let i = 0; i < MAX_CACHED_TARGETS; i++) await cache.get(`other-${i}`, "prod");
    expect(cache.peek?.(`other-${MAX_CACHED_TARGETS - 1}`, "prod")).not.toBeUndefined();
    // The first target was the oldest: it went, and is read again.
    expect(cache.peek?.("a", "prod")).toBeUndefined();
  });
});
