import { compileSnapshot, type SnapshotSource } from "../domain/compile-snapshot";
import { AppError } from "../domain/errors";
import type { Deps } from "./ports";

/**
 * Default bound on one (app, environment)'s delivery snapshot, as stored JSON. KV takes values up
 * to 25 MiB, but every isolate parses and holds the whole snapshot: 8 MiB is thousands of releases
 * with ordinary configurations and targeting.
 */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024;

const utf8 = new TextEncoder();

const snapshotBytes = (source: SnapshotSource) => utf8.encode(JSON.stringify(compileSnapshot(source))).byteLength;

/**
 * Refuses, before anything is written, a change that would make the environment's delivery snapshot
 * larger than `deps.limits.maxSnapshotBytes` (SNAPSHOT_TOO_LARGE): `apply` makes the change on a
 * fresh copy of the relational state, which is then compiled and measured as it would be stored.
 * Without it, a change committed to D1 could fail to publish and leave devices on a stale snapshot.
 * A change that does not grow the snapshot always passes, so one that got over the bound anyway (a
 * lowered bound, racing changes, growth from elsewhere) can always be brought back under it.
 */
export async function assertSnapshotFits(
  deps: Deps,
  environmentId: string,
  apply: (source: SnapshotSource) => void,
): Promise<void> {
  const max = deps.limits.maxSnapshotBytes;
  const read = () => deps.store.snapshotSource(environmentId, deps.clock.now());
  const source = await read();
  if (source === null) return;
  apply(source);
  const bytes = snapshotBytes(source);
  if (bytes <= max) return;
  // Over the bound: refused only if the change grows it (the current state, read again, measured).
  const current = await read();
  if (bytes > (current === null ? 0 : snapshotBytes(current))) {
    throw new AppError(
      "SNAPSHOT_TOO_LARGE",
      `This change would make the environment's delivery snapshot ${bytes} bytes, over its limit of ${max}: ` +
        "make configurations or targeting smaller, or end releases that are no longer needed.",
    );
  }
}

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
