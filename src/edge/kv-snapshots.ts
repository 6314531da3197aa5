import type { Snapshot } from "../domain/snapshot";
import type { SnapshotStore } from "../usecases/ports";

const key = (appKey: string, env: string) => `snapshot:v1:${appKey}:${env}`;
const versionKey = (appKey: string, env: string) => `snapshot-version:v1:${appKey}:${env}`;

/**
 * Snapshots as JSON values in KV, one key per (app, environment), plus a tiny key holding the
 * version, written after the snapshot: caches poll the version and read the (much larger) snapshot
 * only when it changed. Where KV is eventually consistent a reader may see the new version before the
 * new snapshot; it then keeps the copy it has (never older) and polls again.
 */
export function kvSnapshotStore(kv: KVNamespace): Required<Omit<SnapshotStore, "peek">> {
  return {
    async get(appKey, env) {
      return (await kv.get<Snapshot>(key(appKey, env), "json")) ?? null;
    },
    async put(snapshot) {
      await kv.put(key(snapshot.appKey, snapshot.env), JSON.stringify(snapshot));
      await kv.put(versionKey(snapshot.appKey, snapshot.env), String(snapshot.version));
    },
    async version(appKey, env) {
      const text = await kv.get(versionKey(appKey, env));
      const version = text === null ? Number.NaN : Number(text);
      return Number.isSafeInteger(version) ? version : null;
    },
  };
}
