import { compileSnapshot } from "../domain/compile-snapshot";
import type { Deps } from "./ports";

/**
 * Recompiles the delivery snapshot of one (app, environment) from the relational state and stores
 * it. Called after every change that affects delivery. If a concurrent change raised the target's
 * snapshot version while this one was building, it builds again so the newest state is stored last.
 */
export async function rebuildSnapshot(deps: Deps, environmentId: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const source = await deps.store.snapshotSource(environmentId, deps.clock.now());
    if (source === null) return;
    await deps.snapshots.put(compileSnapshot(source));
    const after = await deps.store.snapshotSource(environmentId, deps.clock.now());
    if (after === null || after.version === source.version) return;
  }
}
