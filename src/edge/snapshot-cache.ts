import type { Snapshot } from "../domain/snapshot";
import type { Clock, SnapshotStore } from "../usecases/ports";

interface Entry {
  snapshot: Snapshot | null;
  fetchedAt: number;
  pending: Promise<Snapshot | null> | null;
}

/**
 * An isolate-wide read-through cache in front of a snapshot store. A cached snapshot is served for
 * `ttlMs` before the store is asked again (one request per key at a time; concurrent checks share it),
 * so a change reaches every isolate within `ttlMs` plus the store's own propagation.
 * Writes go through and replace the local copy at once. An older snapshot never replaces a newer one.
 */
export function cachedSnapshotStore(inner: SnapshotStore, clock: Clock, ttlMs: number): SnapshotStore {
  const entries = new Map<string, Entry>();
  const keep = (k: string, snapshot: Snapshot | null, now: number) => {
    const current = entries.get(k)?.snapshot ?? null;
    const newer = current !== null && (snapshot === null || snapshot.version < current.version) ? current : snapshot;
    entries.set(k, { snapshot: newer, fetchedAt: now, pending: null });
    return newer;
  };
  return {
    get(appKey, env) {
      const k = `${appKey}\u0000${env}`;
      const now = clock.now();
      const entry = entries.get(k);
      if (entry && now - entry.fetchedAt < ttlMs) return Promise.resolve(entry.snapshot);
      if (entry?.pending) return entry.pending;
      const pending = inner.get(appKey, env).then(
        (s) => keep(k, s, clock.now()),
        (error: unknown) => {
          entries.delete(k);
          throw error;
        },
      );
      entries.set(k, { snapshot: entry?.snapshot ?? null, fetchedAt: entry?.fetchedAt ?? 0, pending });
      return pending;
    },
    async put(snapshot) {
      await inner.put(snapshot);
      keep(`${snapshot.appKey}\u0000${snapshot.env}`, snapshot, clock.now());
    },
  };
}
