import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Store } from "../usecases/ports";
import { auditWhen, type Db, guard, isUniqueViolation } from "./d1-helpers";
import * as t from "./schema";

type PreviewMethods = Pick<Store, "listQrCodes" | "getQrCode" | "createQrCode" | "deleteQrCode">;

const bumpSnapshot = (db: Db, environmentId: string, auditId: string) =>
  db
    .update(t.environments)
    .set({ snapshotVersion: sql`${t.environments.snapshotVersion} + 1` })
    .where(and(eq(t.environments.id, environmentId), guard(auditId)));

/** Test QR codes (docs/preview.md): each write bumps its release's target, whose delivery lists the codes. */
export function previewMethods(db: Db): PreviewMethods {
  return {
    listQrCodes: (releaseId) =>
      db
        .select()
        .from(t.qrCodes)
        .where(eq(t.qrCodes.releaseId, releaseId))
        .orderBy(asc(t.qrCodes.createdAt), asc(t.qrCodes.id)),
    getQrCode: async (releaseId, codeId) =>
      (await db
        .select()
        .from(t.qrCodes)
        .where(and(eq(t.qrCodes.releaseId, releaseId), eq(t.qrCodes.id, codeId)))
        .get()) ?? null,
    async createQrCode(code, release, statuses, audit) {
      const previewable = and(
        sql`exists (select 1 from ${t.releases} where ${t.releases.id} = ${release.id})`,
        sql`(select ${t.releases.status} from ${t.releases} where ${t.releases.id} = ${release.id}) in (select value from json_each(${JSON.stringify(statuses)}))`,
      );
      try {
        const [audited] = await db.batch([
          auditWhen(db, audit, previewable),
          db.insert(t.qrCodes).select(
            db
              .select({
                id: sql`${code.id}`.as("id"),
                workspaceId: sql`${code.workspaceId}`.as("workspace_id"),
                releaseId: sql`${code.releaseId}`.as("release_id"),
                kind: sql`${code.kind}`.as("kind"),
                pagePath: sql`${code.pagePath}`.as("page_path"),
                query: sql`${JSON.stringify(code.query)}`.as("query"),
                ttlSeconds: sql`${code.ttlSeconds}`.as("ttl_seconds"),
                createdBy: sql`${code.createdBy}`.as("created_by"),
                createdAt: sql`${code.createdAt}`.as("created_at"),
              })
              .from(t.auditLogs)
              .where(eq(t.auditLogs.id, audit.id)),
          ),
          bumpSnapshot(db, release.environmentId, audit.id),
        ]);
        return (audited as unknown as D1Result).meta.changes === 1 ? "ok" : "not_previewable";
      } catch (error) {
        if (isUniqueViolation(error)) return "conflict";
        throw error;
      }
    },
    async deleteQrCode(code, release, audit) {
      const exists = inArray(
        sql`${code.id}`,
        db.select({ id: t.qrCodes.id }).from(t.qrCodes).where(eq(t.qrCodes.id, code.id)),
      );
      const [audited] = await db.batch([
        auditWhen(db, audit, exists),
        db.delete(t.qrCodes).where(and(eq(t.qrCodes.id, code.id), guard(audit.id))),
        bumpSnapshot(db, release.environmentId, audit.id),
      ]);
      return (audited as unknown as D1Result).meta.changes === 1 ? "ok" : "conflict";
    },
  };
}
