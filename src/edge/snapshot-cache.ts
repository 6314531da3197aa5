import type { Snapshot } from "../domain/snapshot";
import type { Clock, SnapshotStore } from "../usecases/ports";

interface Entry {
  snapshot: Snapshot | null;
  fetchedAt: number;
}

/** A refresh still running after this long no longer stops other requests from refreshing. */
const REFRESH_TIMEOUT_MS = 10_000;
/**
 * Targets (app, environment) an isolate keeps at most; past it the oldest entry goes. Devices of one
 * deployment ask about a handful; the bound keeps checks naming made-up targets from filling memory.
 */
export const MAX_CACHED_TARGETS = 1024;

/**
 * An isolate-wide read-through cache in front of a snapshot store. A cached snapshot is served for
 * `ttlMs` before the store is asked again, so a change reaches every isolate within `ttlMs` plus the
 * store's own propagation (and the time of one store read). Writes go through and replace the local
 * copy at once; an older snapshot never replaces a newer one.
 *
 * Refreshing is cheap and single-flight: one request per key asks the store for the version first
 * (when the store can tell it) and reads the snapshot only if it changed; requests arriving
 * meanwhile keep serving the copy in hand. If the store fails, the copy in hand is served and the
 * next request tries again.
 *
 * Only values are shared between requests, never promises: the Workers runtime forbids one request
 * from awaiting I/O started by another.
 */
export function cachedSnapshotStore(inner: SnapshotStore, clock: Clock, ttlMs: number): SnapshotStore {
  const entries = new Map<string, Entry>();
  /** Keys being refreshed, with the time the refresh started. */
  const refreshing = new Map<string, number>();
  const keep = (k: string, snapshot: Snapshot | null) => {
    const current = entries.get(k)?.snapshot ?? null;
    // Same version: keep the object already in hand, so the per-snapshot memos (compiled targeting,
    // bucketers, regexes) stay warm instead of being rebuilt after every refresh.
    const newer = current !== null && (snapshot === null || snapshot.version <= current.version) ? current : snapshot;
    if (!entries.has(k) && entries.size >= MAX_CACHED_TARGETS) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    entries.set(k, { snapshot: newer, fetchedAt: clock.now() });
    return newer;
  };
  const refresh = async (k: string, appKey: string, env: string, entry: Entry | undefined) => {
    if (entry?.snapshot && inner.version) {
      const version = await inner.version(appKey, env);
      if (version !== null && version <= entry.snapshot.version) return keep(k, entry.snapshot);
    }
    return keep(k, await inner.get(appKey, env));
  };
  return {
    peek(appKey, env) {
      const entry = entries.get(`${appKey}\u0000${env}`);
      return entry && clock.now() - entry.fetchedAt < ttlMs ? entry.snapshot : undefined;
    },
    async get(appKey, env) {
      const k = `${appKey}\u0000${env}`;
      const entry = entries.get(k);
      const now = clock.now();
      if (entry && now - entry.fetchedAt < ttlMs) return entry.snapshot;
      const since = refreshing.get(k);
      if (entry && since !== undefined && now - since < REFRESH_TIMEOUT_MS) return entry.snapshot;
      refreshing.set(k, now);
      try {
        return await refresh(k, appKey, env, entry);
      } catch (error) {
        if (entry) return entry.snapshot;
        throw error;
      } finally {
        refreshing.delete(k);
      }
    },
    async put(snapshot) {
      await inner.put(snapshot);
      keep(`${snapshot.appKey}\u0000${snapshot.env}`, snapshot);
    },
  };
}
