import { and, desc, eq, gte, inArray, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { IN_USE_STATUSES } from "../domain/release-status";
import type { AuditEntry, ReleaseDetails, ReleaseRecord, Store } from "../usecases/ports";
import { accessMethods } from "./d1-access";
import { allowlistMethods } from "./d1-allowlists";
import { catalogueMethods } from "./d1-catalogue";
import {
  auditColumns,
  auditIfUnchanged,
  auditInsert,
  type Db,
  environmentUnchanged,
  guard,
  isUniqueViolation,
  uniqueOrConflict,
} from "./d1-helpers";
import { patchMethods } from "./d1-patches";
import { previewMethods } from "./d1-previews";
import { publisherMethods } from "./d1-publishers";
import { statsMethods } from "./d1-stats";
import { tokenMethods } from "./d1-tokens";
import { webhookMethods } from "./d1-webhooks";
import * as t from "./schema";
import { measureSource, snapshotSource, targetsUsingList } from "./snapshot-source";

/** A release with the names people know it by: its version string, app key and environment name. */
const releaseWithNames = {
  release: t.releases,
  version: t.versions.version,
  appKey: t.apps.key,
  env: t.environments.name,
  miniProgramKey: t.miniPrograms.key,
};
const withNames = (r: {
  release: ReleaseRecord;
  version: string;
  appKey: string;
  env: string;
  miniProgramKey: string;
}): ReleaseDetails => ({
  ...r.release,
  miniProgramKey: r.miniProgramKey,
  version: r.version,
  appKey: r.appKey,
  env: r.env,
});

export function d1Store(d1: D1Database): Store {
  const db: Db = drizzle(d1, { schema: t });
  /** The environments where a mini program has releases (of any status): its snapshots list it. */
  const releasingEnvironments = (miniProgramId: string) =>
    db
      .selectDistinct({ id: t.releases.environmentId })
      .from(t.releases)
      .where(eq(t.releases.miniProgramId, miniProgramId));
  /** A change of a release's health gate: its row (compare-and-swap), the audit and a snapshot bump. */
  async function gateWrite(
    release: ReleaseRecord,
    set: { healthPolicy?: Record<string, unknown> | null; rampCommitted: number },
    updatedAt: number,
    audit: AuditEntry,
  ): Promise<boolean> {
    const results = await db.batch([
      auditIfUnchanged(db, t.releases, release, audit),
      db
        .update(t.releases)
        .set({ ...set, updatedAt, rowVersion: release.rowVersion + 1 })
        .where(and(eq(t.releases.id, release.id), eq(t.releases.rowVersion, release.rowVersion), guard(audit.id))),
      db
        .update(t.environments)
        .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
        .where(and(eq(t.environments.id, release.environmentId), guard(audit.id))),
    ]);
    return (results[1] as unknown as D1Result).meta.changes === 1;
  }
  return {
    ...accessMethods(db),
    ...tokenMethods(db),
    ...previewMethods(db),
    ...patchMethods(db),
    ...statsMethods(db),
    ...catalogueMethods(db),
    ...publisherMethods(db),
    ...webhookMethods(db),

    createApp: (app, envs, audit) =>
      uniqueOrConflict(() =>
        db.batch([
          db.insert(t.apps).values(app),
          ...envs.map((e) => db.insert(t.environments).values(e)),
          auditInsert(db, audit),
        ]),
      ),
    // Deleted apps and environments are kept (their keys and names stay taken) but never shown.
    listApps: (workspaceId) =>
      db
        .select()
        .from(t.apps)
        .where(and(eq(t.apps.workspaceId, workspaceId), isNull(t.apps.deletedAt)))
        .orderBy(t.apps.key),
    getApp: async (workspaceId, appId) =>
      (await db
        .select()
        .from(t.apps)
        .where(
          and(
            eq(t.apps.workspaceId, workspaceId),
            or(eq(t.apps.id, appId), eq(t.apps.key, appId)),
            isNull(t.apps.deletedAt),
          ),
        )
        .get()) ?? null,
    createEnvironment: (env, audit) =>
      uniqueOrConflict(() => db.batch([db.insert(t.environments).values(env), auditInsert(db, audit)])),
    listEnvironments: (appId) =>
      db
        .select()
        .from(t.environments)
        .where(and(eq(t.environments.appId, appId), isNull(t.environments.deletedAt)))
        .orderBy(t.environments.name),
    getEnvironment: async (appId, name) =>
      (await db
        .select()
        .from(t.environments)
        .where(and(eq(t.environments.appId, appId), eq(t.environments.name, name), isNull(t.environments.deletedAt)))
        .get()) ?? null,

    createMiniProgram: (mp, audit, creator) =>
      uniqueOrConflict(() =>
        db.batch([
          db.insert(t.miniPrograms).values(mp),
          ...(creator ? [db.insert(t.miniProgramMembers).values(creator)] : []),
          auditInsert(db, audit),
        ]),
      ),
    async updateMiniProgram(mp, next, audit, measured) {
      const ok = guard(audit.id);
      const unchanged = measured.length === 0 ? undefined : and(...measured.map(environmentUnchanged));
      const { id: _id, workspaceId: _ws, key: _key, type: _type, origin: _origin, createdAt: _c, ...fields } = next;
      const results = await db.batch([
        auditIfUnchanged(db, t.miniPrograms, mp, audit, unchanged),
        db
          .update(t.miniPrograms)
          .set(fields)
          .where(and(eq(t.miniPrograms.id, mp.id), eq(t.miniPrograms.rowVersion, mp.rowVersion), ok)),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(and(inArray(t.environments.id, releasingEnvironments(mp.id)), ok)),
      ]);
      return ((results[0] as { meta?: { changes?: number } }).meta?.changes ?? 0) > 0 ? "ok" : "conflict";
    },
    listMiniPrograms: (workspaceId) =>
      db.select().from(t.miniPrograms).where(eq(t.miniPrograms.workspaceId, workspaceId)).orderBy(t.miniPrograms.key),
    getMiniProgram: async (workspaceId, id) =>
      (await db
        .select()
        .from(t.miniPrograms)
        .where(
          and(eq(t.miniPrograms.workspaceId, workspaceId), or(eq(t.miniPrograms.id, id), eq(t.miniPrograms.key, id))),
        )
        .get()) ?? null,

    findVersion: async (miniProgramId, version) =>
      (await db
        .select()
        .from(t.versions)
        .where(and(eq(t.versions.miniProgramId, miniProgramId), eq(t.versions.version, version)))
        .get()) ?? null,
    packageInUse: async (sha256) =>
      (await db.select({ id: t.versions.id }).from(t.versions).where(eq(t.versions.sha256, sha256)).get()) !==
      undefined,
    packageReferenced: async (sha256) =>
      (await db
        .select({ id: t.versions.id })
        .from(t.versions)
        .where(and(eq(t.versions.sha256, sha256), isNull(t.versions.deletedAt)))
        .get()) !== undefined,
    async deleteVersion(version, now, audit) {
      const ok = guard(audit.id);
      const inUse = and(eq(t.releases.versionId, version.id), inArray(t.releases.status, [...IN_USE_STATUSES]));
      const results = await db.batch([
        db.insert(t.auditLogs).select(
          db
            .select(auditColumns(audit))
            .from(t.versions)
            .where(
              and(
                eq(t.versions.id, version.id),
                isNull(t.versions.deletedAt),
                sql`not exists (select 1 from ${t.releases} where ${inUse})`,
              ),
            ),
        ),
        db
          .update(t.versions)
          .set({ deletedAt: now })
          .where(and(eq(t.versions.id, version.id), ok)),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(and(inArray(t.environments.id, releasingEnvironments(version.miniProgramId)), ok)),
      ]);
      if (((results[0] as { meta?: { changes?: number } }).meta?.changes ?? 0) > 0) return "ok";
      const live = await db.select({ id: t.releases.id }).from(t.releases).where(inUse).get();
      return live ? "in_use" : "conflict";
    },
    getVersion: async (versionId) =>
      (await db.select().from(t.versions).where(eq(t.versions.id, versionId)).get()) ?? null,
    createVersion: (version, audit) =>
      uniqueOrConflict(() =>
        db.batch([
          db.insert(t.versions).values(version),
          auditInsert(db, audit),
          // Snapshots list a mini program's known versions: every environment it is released on
          // gets a new snapshot version, rebuilt by the caller (environmentIdsReleasing).
          db
            .update(t.environments)
            .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
            .where(inArray(t.environments.id, releasingEnvironments(version.miniProgramId))),
        ]),
      ),
    setVersionManifest: async (version, manifestSha256) => {
      await db.batch([
        db
          .update(t.versions)
          .set({ manifestSha256 })
          .where(and(eq(t.versions.id, version.id), isNull(t.versions.manifestSha256))),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(inArray(t.environments.id, releasingEnvironments(version.miniProgramId))),
      ]);
    },
    environmentIdsReleasing: async (miniProgramId) =>
      (
        await db
          .selectDistinct({ id: t.releases.environmentId })
          .from(t.releases)
          .where(eq(t.releases.miniProgramId, miniProgramId))
      ).map((r) => r.id),
    listVersions: (miniProgramId) =>
      db
        .select()
        .from(t.versions)
        .where(eq(t.versions.miniProgramId, miniProgramId))
        .orderBy(desc(t.versions.createdAt)),

    async createRelease(release, audit, defaultCode) {
      const nextSeq = sql<number>`(select coalesce(max(${t.releases.seq}), 0) + 1 from ${t.releases} where ${t.releases.environmentId} = ${release.environmentId})`;
      // Null (so the NOT NULL constraint fails the whole batch) once the environment was deleted or
      // the mini program removed: decided inside the write, not only by the use case's earlier read.
      const liveEnvironment = sql<string>`(select ${t.environments.id} from ${t.environments} where ${t.environments.id} = ${release.environmentId} and ${t.environments.deletedAt} is null)`;
      const presentMiniProgram = sql<string>`(select ${t.miniPrograms.id} from ${t.miniPrograms} where ${t.miniPrograms.id} = ${release.miniProgramId} and ${t.miniPrograms.removedAt} is null)`;
      try {
        const [rows] = await db.batch([
          db
            .insert(t.releases)
            .values({ ...release, seq: nextSeq, environmentId: liveEnvironment, miniProgramId: presentMiniProgram })
            .returning(),
          db
            .update(t.environments)
            .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
            .where(eq(t.environments.id, release.environmentId)),
          auditInsert(db, audit),
          ...(defaultCode ? [db.insert(t.qrCodes).values(defaultCode)] : []),
        ]);
        const row = rows[0];
        if (!row) throw new Error("insert returned no row");
        return row;
      } catch (error) {
        if (isUniqueViolation(error)) return "conflict";
        const text = String((error as { message?: unknown })?.message ?? error);
        if (text.includes("NOT NULL constraint failed: releases.environment_id")) return "environment_deleted";
        if (text.includes("NOT NULL constraint failed: releases.mini_program_id")) return "removed";
        throw error;
      }
    },
    getRelease: async (workspaceId, releaseId) => {
      const row = await db
        .select(releaseWithNames)
        .from(t.releases)
        .innerJoin(t.apps, eq(t.apps.id, t.releases.appId))
        .innerJoin(t.versions, eq(t.versions.id, t.releases.versionId))
        .innerJoin(t.environments, eq(t.environments.id, t.releases.environmentId))
        .innerJoin(t.miniPrograms, eq(t.miniPrograms.id, t.releases.miniProgramId))
        .where(and(eq(t.releases.id, releaseId), eq(t.apps.workspaceId, workspaceId)))
        .get();
      return row ? withNames(row) : null;
    },
    async listReleases(workspaceId, f) {
      const conditions = [eq(t.apps.workspaceId, workspaceId)];
      if (f.appId) conditions.push(eq(t.releases.appId, f.appId));
      if (f.environmentId) conditions.push(eq(t.releases.environmentId, f.environmentId));
      if (f.miniProgramId) conditions.push(eq(t.releases.miniProgramId, f.miniProgramId));
      if (f.status) conditions.push(eq(t.releases.status, f.status));
      if (f.version) conditions.push(eq(t.versions.version, f.version));
      const rows = await db
        .select(releaseWithNames)
        .from(t.releases)
        .innerJoin(t.apps, eq(t.apps.id, t.releases.appId))
        .innerJoin(t.versions, eq(t.versions.id, t.releases.versionId))
        .innerJoin(t.environments, eq(t.environments.id, t.releases.environmentId))
        .innerJoin(t.miniPrograms, eq(t.miniPrograms.id, t.releases.miniProgramId))
        .where(and(...conditions))
        .orderBy(desc(t.releases.createdAt), desc(t.releases.seq));
      return rows.map(withNames);
    },

    async updateReleaseStatus(release: ReleaseRecord, changes, audit, archive = [], measured = null) {
      const ok = guard(audit.id);
      // `inArray` of an empty list would be invalid SQL: an id no release has stands in for it.
      const superseded = and(
        eq(t.releases.environmentId, release.environmentId),
        eq(t.releases.miniProgramId, release.miniProgramId),
        eq(t.releases.status, "full"),
        inArray(t.releases.id, archive.length > 0 ? [...archive] : [""]),
        sql`${t.releases.id} <> ${release.id}`,
        ok,
      );
      const results = await db.batch([
        // The audit row goes first and only when the compare-and-swap will succeed (the release's
        // row version and, when measured, the target's snapshot version); every later statement is
        // conditioned on it, so a lost race changes nothing at all.
        auditIfUnchanged(db, t.releases, release, audit, measured ? environmentUnchanged(measured) : undefined),
        db
          .update(t.releases)
          .set({ ...changes, rowVersion: release.rowVersion + 1 })
          .where(and(eq(t.releases.id, release.id), eq(t.releases.rowVersion, release.rowVersion), ok)),
        // Releases superseded by this one going full: one audit row each, then the archive itself.
        db.insert(t.auditLogs).select(
          db
            .select(
              auditColumns(
                { ...audit, action: "release.archive", before: { status: "full" }, after: { status: "archived" } },
                { id: sql`${audit.id} || '_' || substr(${t.releases.id}, 5)`, resourceId: sql`${t.releases.id}` },
              ),
            )
            .from(t.releases)
            .where(superseded),
        ),
        db
          .update(t.releases)
          .set({ status: "archived", updatedAt: changes.updatedAt, rowVersion: sql`${t.releases.rowVersion} + 1` })
          .where(superseded),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(and(eq(t.environments.id, release.environmentId), ok)),
      ]);
      const updated = results[1] as unknown as D1Result;
      return updated.meta.changes === 1 ? "ok" : "conflict";
    },

    async deleteRelease(release, audit, statuses) {
      const results = await db.batch([
        auditIfUnchanged(db, t.releases, release, audit, inArray(t.releases.status, [...statuses])),
        // Its QR codes first: they refer to it.
        db.delete(t.qrCodes).where(and(eq(t.qrCodes.releaseId, release.id), guard(audit.id))),
        db.delete(t.releases).where(and(eq(t.releases.id, release.id), guard(audit.id))),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(and(eq(t.environments.id, release.environmentId), guard(audit.id))),
      ]);
      return (results[2] as unknown as D1Result).meta.changes === 1 ? "ok" : "conflict";
    },

    async updateReleaseSettings(release, changes, audit) {
      const results = await db.batch([
        auditIfUnchanged(db, t.releases, release, audit),
        db
          .update(t.releases)
          .set({ ...changes, rowVersion: release.rowVersion + 1 })
          .where(and(eq(t.releases.id, release.id), eq(t.releases.rowVersion, release.rowVersion), guard(audit.id))),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(and(eq(t.environments.id, release.environmentId), guard(audit.id))),
      ]);
      return (results[1] as unknown as D1Result).meta.changes === 1 ? "ok" : "conflict";
    },

    setHealthPolicy: (release, policy, rampCommitted, updatedAt, audit) =>
      gateWrite(release, { healthPolicy: policy, rampCommitted }, updatedAt, audit),
    commitRampStep: (release, updatedAt, audit) =>
      gateWrite(release, { rampCommitted: (release.rampCommitted ?? 0) + 1 }, updatedAt, audit),

    async updateReleaseTargeting(release, targeting, updatedAt, audit, measured = null, resetApproval = false) {
      const results = await db.batch([
        auditIfUnchanged(db, t.releases, release, audit, measured ? environmentUnchanged(measured) : undefined),
        db
          .update(t.releases)
          .set({
            targeting,
            updatedAt,
            rowVersion: release.rowVersion + 1,
            ...(resetApproval ? { status: "created" as const, approvedHash: null } : {}),
          })
          .where(and(eq(t.releases.id, release.id), eq(t.releases.rowVersion, release.rowVersion), guard(audit.id))),
        db
          .update(t.environments)
          .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
          .where(and(eq(t.environments.id, release.environmentId), guard(audit.id))),
      ]);
      return (results[1] as unknown as D1Result).meta.changes === 1 ? "ok" : "conflict";
    },

    ...allowlistMethods(db),

    async recordAudit(audit) {
      await auditInsert(db, audit);
    },
    async raiseSnapshotVersion(environmentId, atLeast) {
      await db
        .update(t.environments)
        .set({ snapshotVersion: sql`max(${t.environments.snapshotVersion}, ${atLeast})` })
        .where(eq(t.environments.id, environmentId));
    },
    snapshotSource: (environmentId, builtAt, miniProgramIds) =>
      snapshotSource(db, environmentId, builtAt, miniProgramIds),
    measureSource: (environmentId, builtAt, miniProgramId) => measureSource(db, environmentId, builtAt, miniProgramId),
    targetsUsingList: (workspaceId, listId) => targetsUsingList(db, workspaceId, listId),
    async listAudit(workspaceId, filter, cursor, limit) {
      const conditions: (SQL | undefined)[] = [eq(t.auditLogs.workspaceId, workspaceId)];
      if (filter.actorMemberId) conditions.push(eq(t.auditLogs.actorMemberId, filter.actorMemberId));
      if (filter.resourceType) conditions.push(eq(t.auditLogs.resourceType, filter.resourceType));
      if (filter.resourceId) conditions.push(eq(t.auditLogs.resourceId, filter.resourceId));
      if (filter.action) conditions.push(eq(t.auditLogs.action, filter.action));
      if (filter.from !== undefined) conditions.push(gte(t.auditLogs.createdAt, filter.from));
      if (filter.to !== undefined) conditions.push(lt(t.auditLogs.createdAt, filter.to));
      const [at, id] = cursor?.split("~") ?? [];
      if (at !== undefined && id !== undefined && /^\d+$/.test(at)) {
        const atMs = Number(at);
        conditions.push(
          or(lt(t.auditLogs.createdAt, atMs), and(eq(t.auditLogs.createdAt, atMs), lt(t.auditLogs.id, id))),
        );
      }
      const rows = await db
        .select()
        .from(t.auditLogs)
        .where(and(...conditions))
        .orderBy(desc(t.auditLogs.createdAt), desc(t.auditLogs.id))
        .limit(limit + 1);
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > limit && last ? `${last.createdAt}~${last.id}` : null };
    },
  };
}
