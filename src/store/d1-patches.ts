import { aliasedTable, and, desc, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import type { PatchRecord, PatchStore } from "../usecases/patch-ports";
import { auditColumns, type Db, guard } from "./d1-helpers";
import * as t from "./schema";

/** Release statuses only reachable by having been canary or full (paused, ended, archived follow them). */
const DELIVERED = ["canary", "full", "paused", "ended", "archived"] as const;

/** Incremental patches (docs/patches.md): their rows; the bytes are in the package store. */
export function patchMethods(db: Db): PatchStore {
  const releasing = (miniProgramId: string) =>
    db
      .selectDistinct({ id: t.releases.environmentId })
      .from(t.releases)
      .where(eq(t.releases.miniProgramId, miniProgramId));
  return {
    async patchBases(environmentId, miniProgramId, targetVersionId, limit) {
      const rows = await db
        .select({ versionId: t.releases.versionId, last: sql<number>`max(${t.releases.seq})`.as("last") })
        .from(t.releases)
        .innerJoin(t.versions, eq(t.versions.id, t.releases.versionId))
        .where(
          and(
            eq(t.releases.environmentId, environmentId),
            eq(t.releases.miniProgramId, miniProgramId),
            ne(t.releases.versionId, targetVersionId),
            inArray(t.releases.status, [...DELIVERED]),
            isNull(t.versions.deletedAt),
          ),
        )
        .groupBy(t.releases.versionId)
        .orderBy(desc(sql`last`))
        .limit(limit);
      return rows.map((r) => r.versionId);
    },
    async ensurePatches(rows) {
      if (rows.length === 0) return [];
      await db
        .insert(t.patches)
        .values([...rows])
        .onConflictDoNothing();
      const pairs = rows.map((r) =>
        and(
          eq(t.patches.baseVersionId, r.baseVersionId),
          eq(t.patches.targetVersionId, r.targetVersionId),
          eq(t.patches.format, r.format),
        ),
      );
      return (await db
        .select()
        .from(t.patches)
        .where(or(...pairs))) as PatchRecord[];
    },
    async getPatch(patchId) {
      return ((await db.select().from(t.patches).where(eq(t.patches.id, patchId)).get()) as PatchRecord) ?? null;
    },
    async startPatchAttempt(patchId, now) {
      const [row] = await db
        .update(t.patches)
        .set({ attempts: sql`${t.patches.attempts} + 1`, updatedAt: now })
        .where(eq(t.patches.id, patchId))
        .returning();
      return (row as PatchRecord | undefined) ?? null;
    },
    async finishPatch(patchId, outcome, now) {
      const row = await db.select().from(t.patches).where(eq(t.patches.id, patchId)).get();
      if (row === undefined) return false;
      const set =
        outcome.status === "ready"
          ? {
              status: "ready" as const,
              sha256: outcome.sha256,
              size: outcome.size,
              error: null,
              buildMs: outcome.buildMs,
              memoryBytes: outcome.memoryBytes,
              updatedAt: now,
            }
          : {
              status: outcome.status,
              error: outcome.error,
              buildMs: outcome.buildMs,
              memoryBytes: outcome.memoryBytes,
              updatedAt: now,
            };
      const notReady = and(eq(t.patches.id, patchId), ne(t.patches.status, "ready"));
      if (outcome.status !== "ready") {
        const res = await db.update(t.patches).set(set).where(notReady);
        return ((res as { meta?: { changes?: number } }).meta?.changes ?? 0) > 0;
      }
      // Ready: the environments releasing the mini program get a new snapshot version, so the
      // caller's republish writes parts that carry the patch.
      const results = await db.batch([
        db.update(t.patches).set(set).where(notReady),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(inArray(t.environments.id, releasing(row.miniProgramId))),
      ]);
      return ((results[0] as { meta?: { changes?: number } }).meta?.changes ?? 0) > 0;
    },
    async notePatchError(patchId, error, now) {
      await db.update(t.patches).set({ error, updatedAt: now }).where(eq(t.patches.id, patchId));
    },
    async failPatch(patchId, error, now) {
      await db
        .update(t.patches)
        .set({ status: "failed", error, updatedAt: now })
        .where(and(eq(t.patches.id, patchId), ne(t.patches.status, "ready")));
    },
    async listPatches(miniProgramId) {
      const base = aliasedTable(t.versions, "base");
      const target = aliasedTable(t.versions, "target");
      const rows = await db
        .select({ patch: t.patches, baseVersion: base.version, targetVersion: target.version })
        .from(t.patches)
        .innerJoin(base, eq(base.id, t.patches.baseVersionId))
        .innerJoin(target, eq(target.id, t.patches.targetVersionId))
        .where(eq(t.patches.miniProgramId, miniProgramId))
        .orderBy(desc(t.patches.createdAt), t.patches.id);
      return rows.map((r) => ({
        ...(r.patch as PatchRecord),
        baseVersion: r.baseVersion,
        targetVersion: r.targetVersion,
      }));
    },
    async reopenPatch(patchId, now, audit) {
      const failed = and(eq(t.patches.id, patchId), ne(t.patches.status, "ready"));
      const results = await db.batch([
        db.insert(t.auditLogs).select(db.select(auditColumns(audit)).from(t.patches).where(failed)),
        db
          .update(t.patches)
          .set({ status: "pending", attempts: 0, error: null, updatedAt: now })
          .where(and(failed, guard(audit.id))),
      ]);
      return ((results[0] as { meta?: { changes?: number } }).meta?.changes ?? 0) > 0;
    },
    async deletePatchesOf(versionId) {
      const of = or(eq(t.patches.baseVersionId, versionId), eq(t.patches.targetVersionId, versionId));
      const rows = await db.delete(t.patches).where(of).returning({ sha256: t.patches.sha256 });
      return rows.map((r) => r.sha256).filter((s): s is string => s !== null);
    },
    patchReferenced: async (sha256) =>
      (await db.select({ id: t.patches.id }).from(t.patches).where(eq(t.patches.sha256, sha256)).get()) !== undefined,
  };
}
