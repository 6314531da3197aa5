import { and, asc, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Store } from "../usecases/ports";
import { auditColumns, auditWhen, type Db, guard, isUniqueViolation } from "./d1-helpers";
import * as t from "./schema";

type CatalogueMethods = Pick<
  Store,
  | "createRemovalRequest"
  | "listRemovalRequests"
  | "getRemovalRequest"
  | "closeRemoval"
  | "approveRemoval"
  | "createFeature"
  | "listFeatures"
  | "getFeature"
  | "deleteFeature"
  | "listMiniProgramFeatures"
  | "setMiniProgramFeature"
  | "deleteApp"
  | "deleteEnvironment"
>;

/** Releases that still count: not ended, archived or cancelled (what blocks deletes, what removal closes). */
const OPEN = ["created", "in_review", "approved", "rejected", "canary", "full", "paused"] as const;
const LIVE = ["canary", "full", "paused"] as const;

const changed = (result: unknown) => ((result as D1Result).meta?.changes ?? 0) > 0;

/** Bumps the snapshot version of every environment where the mini program has releases. */
const bumpReleasing = (db: Db, miniProgramId: string, auditId: string) =>
  db
    .update(t.environments)
    .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
    .where(
      and(
        inArray(
          t.environments.id,
          db
            .selectDistinct({ id: t.releases.environmentId })
            .from(t.releases)
            .where(eq(t.releases.miniProgramId, miniProgramId)),
        ),
        guard(auditId),
      ),
    );

/** Removal requests, the feature catalogue, and deleting apps and environments (docs/overview.md). */
export function catalogueMethods(db: Db): CatalogueMethods {
  return {
    async createRemovalRequest(request, audit) {
      const present = sql`exists (select 1 from ${t.miniPrograms} where ${t.miniPrograms.id} = ${request.miniProgramId} and ${t.miniPrograms.removedAt} is null)`;
      try {
        const [audited] = await db.batch([
          auditWhen(db, audit, present),
          db.insert(t.removalRequests).select(
            db
              .select({
                id: sql`${request.id}`.as("id"),
                workspaceId: sql`${request.workspaceId}`.as("workspace_id"),
                miniProgramId: sql`${request.miniProgramId}`.as("mini_program_id"),
                reason: sql`${request.reason}`.as("reason"),
                status: sql`'pending'`.as("status"),
                requestedBy: sql`${request.requestedBy}`.as("requested_by"),
                requestedAt: sql`${request.requestedAt}`.as("requested_at"),
                decidedBy: sql`null`.as("decided_by"),
                decidedAt: sql`null`.as("decided_at"),
                decisionReason: sql`null`.as("decision_reason"),
              })
              .from(t.auditLogs)
              .where(eq(t.auditLogs.id, audit.id)),
          ),
        ]);
        return changed(audited) ? "ok" : "removed";
      } catch (error) {
        if (isUniqueViolation(error)) return "conflict";
        throw error;
      }
    },
    listRemovalRequests: (workspaceId, miniProgramId) =>
      db
        .select()
        .from(t.removalRequests)
        .where(
          and(
            eq(t.removalRequests.workspaceId, workspaceId),
            miniProgramId === undefined ? undefined : eq(t.removalRequests.miniProgramId, miniProgramId),
          ),
        )
        .orderBy(asc(t.removalRequests.requestedAt), asc(t.removalRequests.id)),
    getRemovalRequest: async (workspaceId, id) =>
      (await db
        .select()
        .from(t.removalRequests)
        .where(and(eq(t.removalRequests.workspaceId, workspaceId), eq(t.removalRequests.id, id)))
        .get()) ?? null,
    async closeRemoval(request, status, decision, audit) {
      const pending = sql`exists (select 1 from ${t.removalRequests} where ${t.removalRequests.id} = ${request.id} and ${t.removalRequests.status} = 'pending')`;
      const [audited] = await db.batch([
        auditWhen(db, audit, pending),
        db
          .update(t.removalRequests)
          .set({ status, ...decision })
          .where(and(eq(t.removalRequests.id, request.id), guard(audit.id))),
      ]);
      return changed(audited) ? "ok" : "conflict";
    },
    async approveRemoval(request, decision, audit) {
      const ok = guard(audit.id);
      const pending = sql`exists (select 1 from ${t.removalRequests} where ${t.removalRequests.id} = ${request.id} and ${t.removalRequests.status} = 'pending')`;
      const ofMp = eq(t.releases.miniProgramId, request.miniProgramId);
      const closing = (statuses: readonly string[]): SQL =>
        and(ofMp, inArray(t.releases.status, [...statuses] as never[]), ok) as SQL;
      const preLive = OPEN.filter((s) => !(LIVE as readonly string[]).includes(s));
      const closeAudit = (statuses: readonly string[], to: string) =>
        db.insert(t.auditLogs).select(
          db
            .select(
              auditColumns(
                {
                  ...audit,
                  action: "release.close_on_removal",
                  resourceType: "release",
                  before: null,
                  after: { status: to },
                },
                {
                  id: sql`${audit.id} || '_' || substr(${t.releases.id}, 5)`,
                  resourceId: sql`${t.releases.id}`,
                  before: sql`json_object('status', ${t.releases.status})`,
                },
              ),
            )
            .from(t.releases)
            .where(closing(statuses)),
        );
      const [audited] = await db.batch([
        auditWhen(db, audit, pending),
        db
          .update(t.removalRequests)
          .set({ status: "approved", ...decision })
          .where(and(eq(t.removalRequests.id, request.id), ok)),
        db
          .update(t.miniPrograms)
          .set({
            removedAt: decision.decidedAt,
            updatedAt: decision.decidedAt,
            rowVersion: sql`${t.miniPrograms.rowVersion} + 1`,
          })
          .where(and(eq(t.miniPrograms.id, request.miniProgramId), isNull(t.miniPrograms.removedAt), ok)),
        // Every open release closes, one audit row each: live ones end, the others are cancelled.
        closeAudit(LIVE, "ended"),
        closeAudit(preLive, "cancelled"),
        db
          .update(t.releases)
          .set({
            status: "ended",
            pausedFrom: null,
            updatedAt: decision.decidedAt,
            rowVersion: sql`${t.releases.rowVersion} + 1`,
          })
          .where(closing(LIVE)),
        db
          .update(t.releases)
          .set({ status: "cancelled", updatedAt: decision.decidedAt, rowVersion: sql`${t.releases.rowVersion} + 1` })
          .where(closing(preLive)),
        bumpReleasing(db, request.miniProgramId, audit.id),
      ]);
      return changed(audited) ? "ok" : "conflict";
    },

    async createFeature(feature, audit) {
      try {
        await db.batch([db.insert(t.features).values(feature), db.insert(t.auditLogs).values(audit)]);
        return "ok";
      } catch (error) {
        if (isUniqueViolation(error)) return "conflict";
        throw error;
      }
    },
    listFeatures: (workspaceId) =>
      db.select().from(t.features).where(eq(t.features.workspaceId, workspaceId)).orderBy(asc(t.features.name)),
    getFeature: async (workspaceId, idOrName) =>
      (await db
        .select()
        .from(t.features)
        .where(
          and(
            eq(t.features.workspaceId, workspaceId),
            sql`(${t.features.id} = ${idOrName} or ${t.features.name} = ${idOrName})`,
          ),
        )
        .get()) ?? null,
    async deleteFeature(feature, audit) {
      const unused = sql`not exists (select 1 from ${t.miniProgramFeatures} where ${t.miniProgramFeatures.featureId} = ${feature.id}) and exists (select 1 from ${t.features} where ${t.features.id} = ${feature.id})`;
      const [audited] = await db.batch([
        auditWhen(db, audit, unused),
        db.delete(t.features).where(and(eq(t.features.id, feature.id), guard(audit.id))),
      ]);
      if (changed(audited)) return "ok";
      const used = await db
        .select({ id: t.miniProgramFeatures.featureId })
        .from(t.miniProgramFeatures)
        .where(eq(t.miniProgramFeatures.featureId, feature.id))
        .get();
      return used ? "in_use" : "conflict";
    },
    listMiniProgramFeatures: (miniProgramId) =>
      db
        .select({ feature: t.features, addedAt: t.miniProgramFeatures.createdAt })
        .from(t.miniProgramFeatures)
        .innerJoin(t.features, eq(t.features.id, t.miniProgramFeatures.featureId))
        .where(eq(t.miniProgramFeatures.miniProgramId, miniProgramId))
        .orderBy(asc(t.features.name))
        .then((rows) => rows.map((r) => ({ ...r.feature, addedAt: r.addedAt }))),
    async setMiniProgramFeature(miniProgramId, featureId, added, audit, now) {
      const has = sql`exists (select 1 from ${t.miniProgramFeatures} where ${t.miniProgramFeatures.miniProgramId} = ${miniProgramId} and ${t.miniProgramFeatures.featureId} = ${featureId})`;
      const live = sql`exists (select 1 from ${t.miniPrograms} where ${t.miniPrograms.id} = ${miniProgramId} and ${t.miniPrograms.removedAt} is null) and exists (select 1 from ${t.features} where ${t.features.id} = ${featureId})`;
      const [audited] = await db.batch([
        auditWhen(db, audit, sql`${live} and ${added ? sql`not ${has}` : has}`),
        added
          ? db.insert(t.miniProgramFeatures).select(
              db
                .select({
                  miniProgramId: sql`${miniProgramId}`.as("mini_program_id"),
                  featureId: sql`${featureId}`.as("feature_id"),
                  createdAt: sql`${now}`.as("created_at"),
                })
                .from(t.auditLogs)
                .where(eq(t.auditLogs.id, audit.id)),
            )
          : db
              .delete(t.miniProgramFeatures)
              .where(
                and(
                  eq(t.miniProgramFeatures.miniProgramId, miniProgramId),
                  eq(t.miniProgramFeatures.featureId, featureId),
                  guard(audit.id),
                ),
              ),
        bumpReleasing(db, miniProgramId, audit.id),
      ]);
      return changed(audited) ? "ok" : "unchanged";
    },

    async deleteApp(app, audit, now) {
      const idle = sql`not exists (select 1 from ${t.releases} where ${t.releases.appId} = ${app.id} and ${t.releases.status} in ${OPEN}) and exists (select 1 from ${t.apps} where ${t.apps.id} = ${app.id} and ${t.apps.deletedAt} is null)`;
      const [audited] = await db.batch([
        auditWhen(db, audit, idle),
        db
          .update(t.apps)
          .set({ deletedAt: now })
          .where(and(eq(t.apps.id, app.id), guard(audit.id))),
        db
          .update(t.environments)
          .set({ deletedAt: now })
          .where(and(eq(t.environments.appId, app.id), isNull(t.environments.deletedAt), guard(audit.id))),
      ]);
      return changed(audited) ? "ok" : "in_use";
    },
    async deleteEnvironment(environment, audit, now) {
      const idle = sql`not exists (select 1 from ${t.releases} where ${t.releases.environmentId} = ${environment.id} and ${t.releases.status} in ${OPEN}) and exists (select 1 from ${t.environments} where ${t.environments.id} = ${environment.id} and ${t.environments.deletedAt} is null)`;
      const [audited] = await db.batch([
        auditWhen(db, audit, idle),
        db
          .update(t.environments)
          .set({ deletedAt: now })
          .where(and(eq(t.environments.id, environment.id), guard(audit.id))),
      ]);
      return changed(audited) ? "ok" : "in_use";
    },
  };
}
