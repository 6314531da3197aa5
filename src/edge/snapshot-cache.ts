import type { Snapshot } from "../domain/snapshot";
import type { Clock, SnapshotStore } from "../usecases/ports";

interface Entry {
  snapshot: Snapshot | null;
  fetchedAt: number;
}

/**
 * An isolate-wide read-through cache in front of a snapshot store. A cached snapshot is served for
 * `ttlMs` before the store is asked again, so a change reaches every isolate within `ttlMs` plus the
 * store's own propagation. Writes go through and replace the local copy at once; an older snapshot
 * never replaces a newer one.
 *
 * Only values are shared between requests, never promises: the Workers runtime forbids one request
 * from awaiting I/O started by another, so concurrent misses each read the store once.
 */
export function cachedSnapshotStore(inner: SnapshotStore, clock: Clock, ttlMs: number): SnapshotStore {
  const entries = new Map<string, Entry>();
  const keep = (k: string, snapshot: Snapshot | null) => {
    const current = entries.get(k)?.snapshot ?? null;
    // Same version: keep the object already in hand, so the per-snapshot memos (compiled targeting,
    // bucketers, regexes) stay warm instead of being rebuilt after every refresh.
    const newer = current !== null && (snapshot === null || snapshot.version <= current.version) ? current : snapshot;
    entries.set(k, { snapshot: newer, fetchedAt: clock.now() });
    return newer;
  };
  return {
    async get(appKey, env) {
      const k = `${appKey}\u0000${env}`;
      const entry = entries.get(k);
      if (entry && clock.now() - entry.fetchedAt < ttlMs) return entry.snapshot;
      return keep(k, await inner.get(appKey, env));
    },
    async put(snapshot) {
      await inner.put(snapshot);
      keep(`${snapshot.appKey}\u0000${snapshot.env}`, snapshot);
    },
  };
}
