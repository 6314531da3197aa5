import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { AllowlistRecord, AuditEntry, MeasuredEnvironment, WriteResult } from "../usecases/ports";
import {
  auditIfUnchanged,
  auditInsert,
  type Db,
  guard,
  uniqueOrConflict,
  workspaceEnvironmentsUnchanged,
} from "./d1-helpers";
import * as t from "./schema";

type ContentChanges = Pick<
  AllowlistRecord,
  "contentVersion" | "contentKey" | "exactCount" | "shardCount" | "regexEntries" | "updatedAt"
>;

/** Allowlist rows; contents live in R2/KV (see edge/list-content.ts). */
export function allowlistMethods(db: Db) {
  const appsOf = (workspaceId: string) =>
    db.select({ id: t.apps.id }).from(t.apps).where(eq(t.apps.workspaceId, workspaceId));
  return {
    createAllowlist: (list: AllowlistRecord, audit: AuditEntry) =>
      uniqueOrConflict(() => db.batch([db.insert(t.allowlists).values(list), auditInsert(db, audit)])),
    getAllowlist: async (workspaceId: string, idOrName: string): Promise<AllowlistRecord | null> =>
      (await db
        .select()
        .from(t.allowlists)
        .where(
          and(
            eq(t.allowlists.workspaceId, workspaceId),
            or(eq(t.allowlists.id, idOrName), eq(t.allowlists.name, idOrName)),
          ),
        )
        .get()) ?? null,
    listAllowlists: (workspaceId: string): Promise<AllowlistRecord[]> =>
      db.select().from(t.allowlists).where(eq(t.allowlists.workspaceId, workspaceId)).orderBy(t.allowlists.name),
    /**
     * Compare-and-swap on rowVersion (and, with `measured`, on the snapshot version of every
     * environment of the workspace): new content metadata, the audit row, and a snapshot-version bump
     * of every environment of the workspace (their snapshots carry list metadata), all or nothing.
     */
    async updateAllowlistContent(
      list: AllowlistRecord,
      changes: ContentChanges,
      audit: AuditEntry,
      measured: readonly MeasuredEnvironment[] | null = null,
    ): Promise<WriteResult> {
      const ok = guard(audit.id);
      const unchanged = measured ? workspaceEnvironmentsUnchanged(list.workspaceId, measured) : undefined;
      const results = await db.batch([
        auditIfUnchanged(db, t.allowlists, list, audit, unchanged),
        db
          .update(t.allowlists)
          .set({ ...changes, rowVersion: list.rowVersion + 1 })
          .where(and(eq(t.allowlists.id, list.id), eq(t.allowlists.rowVersion, list.rowVersion), ok)),
        db
          .update(t.environments)
          .set({ snapshotVersion: sqlIncrement })
          .where(and(inArray(t.environments.appId, appsOf(list.workspaceId)), ok)),
      ]);
      return (results[1] as unknown as D1Result).meta.changes === 1 ? "ok" : "conflict";
    },
    async deleteAllowlist(list: AllowlistRecord, audit: AuditEntry): Promise<"ok" | "in_use" | "conflict"> {
      const inUse = usedByOpenRelease(list);
      const results = await db.batch([
        auditIfUnchanged(db, t.allowlists, list, audit, sql`not ${inUse}`),
        db
          .delete(t.allowlists)
          .where(and(eq(t.allowlists.id, list.id), eq(t.allowlists.rowVersion, list.rowVersion), guard(audit.id))),
      ]);
      if ((results[1] as unknown as D1Result).meta.changes === 1) return "ok";
      const used = await db
        .select({ used: sql<number>`${inUse}` })
        .from(t.allowlists)
        .where(eq(t.allowlists.id, list.id))
        .get();
      return used?.used ? "in_use" : "conflict";
    },
    environmentIdsOfWorkspace: async (workspaceId: string): Promise<string[]> =>
      (
        await db
          .select({ id: t.environments.id })
          .from(t.environments)
          .where(inArray(t.environments.appId, appsOf(workspaceId)))
      ).map((r) => r.id),
  };
}

const sqlIncrement = sql`${t.environments.snapshotVersion} + 1`;

/** True while a release that is not ended, archived or cancelled refers to the list in its targeting. */
const usedByOpenRelease = (list: { id: string; workspaceId: string }) =>
  sql`exists (select 1 from ${t.releases} as r join ${t.apps} as a on a.id = r.app_id
    where a.workspace_id = ${list.workspaceId} and r.status not in ('ended', 'archived', 'cancelled')
      and r.targeting is not null
      and (exists (select 1 from json_each(r.targeting, '$.allowlists') as j where json_extract(j.value, '$.listId') = ${list.id})
        or exists (select 1 from json_each(r.targeting, '$.denylists') as j where json_extract(j.value, '$.listId') = ${list.id})))`;
