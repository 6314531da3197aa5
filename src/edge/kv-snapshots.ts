import type { Snapshot } from "../domain/snapshot";
import type { SnapshotStore } from "../usecases/ports";

const key = (appKey: string, env: string) => `snapshot:v1:${appKey}:${env}`;

/** Snapshots as JSON values in KV, one key per (app, environment). */
export function kvSnapshotStore(kv: KVNamespace): SnapshotStore {
  return {
    async get(appKey, env) {
      return (await kv.get<Snapshot>(key(appKey, env), "json")) ?? null;
    },
    async put(snapshot) {
      await kv.put(key(snapshot.appKey, snapshot.env), JSON.stringify(snapshot));
    },
  };
}
