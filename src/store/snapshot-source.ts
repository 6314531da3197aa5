import { eq, inArray } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { SnapshotSource } from "../domain/compile-snapshot";
import type { ConfigPatch } from "../domain/config";
import * as t from "./schema";

/**
 * Reads everything the snapshot of one (app, environment) is compiled from, in one D1 batch (one
 * transaction), so the reads see one consistent state stamped with the target's snapshot version.
 * Only mini programs with a release on the target are included.
 */
export async function snapshotSource(
  db: DrizzleD1Database<typeof t>,
  environmentId: string,
  builtAt: number,
): Promise<SnapshotSource | null> {
  const released = db
    .selectDistinct({ id: t.releases.miniProgramId })
    .from(t.releases)
    .where(eq(t.releases.environmentId, environmentId));
  // No joins inside the batch: D1 batch rows come back as objects, so same-named columns of joined
  // tables would collide. The app is selected through a subquery instead.
  const appOfEnv = db
    .select({ id: t.environments.appId })
    .from(t.environments)
    .where(eq(t.environments.id, environmentId));
  const [envRows, appRows, releaseRows, mps, versions, lists] = await db.batch([
    db.select().from(t.environments).where(eq(t.environments.id, environmentId)),
    db.select().from(t.apps).where(inArray(t.apps.id, appOfEnv)),
    db.select().from(t.releases).where(eq(t.releases.environmentId, environmentId)),
    db.select().from(t.miniPrograms).where(inArray(t.miniPrograms.id, released)),
    db.select().from(t.versions).where(inArray(t.versions.miniProgramId, released)),
    db
      .select()
      .from(t.allowlists)
      .where(
        inArray(
          t.allowlists.workspaceId,
          db.select({ id: t.apps.workspaceId }).from(t.apps).where(inArray(t.apps.id, appOfEnv)),
        ),
      ),
  ]);
  const env = envRows[0];
  const app = appRows[0];
  if (!env || !app) return null;
  return {
    appKey: app.key,
    env: env.name,
    version: env.snapshotVersion,
    builtAt,
    miniPrograms: mps.map((mp) => ({
      id: mp.id,
      key: mp.key,
      type: mp.type,
      origin: mp.origin,
      minUsableVersion: mp.minUsableVersion,
      config: mp.config as ConfigPatch,
    })),
    versions: versions.map((v) => ({
      id: v.id,
      miniProgramId: v.miniProgramId,
      version: v.version,
      sha256: v.sha256,
      size: v.size,
      compat: v.compat,
      publisherSignature: v.publisherSignature,
      deleted: v.deletedAt !== null,
    })),
    releases: releaseRows.map((r) => ({
      id: r.id,
      versionId: r.versionId,
      seq: r.seq,
      status: r.status,
      wentFull: r.wentFull,
      rollback: r.rollback,
      updateMode: r.updateMode,
      config: r.config as ConfigPatch,
      targeting: r.targeting,
    })),
    lists: lists.map((l) => ({
      id: l.id,
      kind: l.kind,
      contentKey: l.contentKey,
      shardCount: l.shardCount,
      regexEntries: l.regexEntries,
    })),
  };
}
