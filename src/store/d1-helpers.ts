import { and, eq, type SQL, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { AuditEntry, MeasuredEnvironment, WriteResult } from "../usecases/ports";
import * as t from "./schema";

export type Db = DrizzleD1Database<typeof t>;

/**
 * A unique (or primary key) constraint failed. Only those: a NOT NULL or foreign key failure is
 * SQLITE_CONSTRAINT too, and is not a conflict with another row (see createRelease).
 */
export function isUniqueViolation(error: unknown): boolean {
  const text = String((error as { message?: unknown })?.message ?? error);
  return text.includes("UNIQUE constraint failed");
}

export async function uniqueOrConflict(run: () => Promise<unknown>): Promise<WriteResult> {
  try {
    await run();
    return "ok";
  } catch (error) {
    if (isUniqueViolation(error)) return "conflict";
    throw error;
  }
}

export const auditInsert = (db: Db, a: AuditEntry) => db.insert(t.auditLogs).values(a);

/** The audit row as constant columns of an INSERT … SELECT, so it can be made conditional. */
export const auditColumns = (a: AuditEntry, override: { id?: SQL; resourceId?: SQL; before?: SQL } = {}) => ({
  id: (override.id ?? sql<string>`${a.id}`).as("id"),
  workspaceId: sql<string>`${a.workspaceId}`.as("workspace_id"),
  actorMemberId: sql<string>`${a.actorMemberId}`.as("actor_member_id"),
  actorTokenId: sql<string>`${a.actorTokenId}`.as("actor_token_id"),
  action: sql<string>`${a.action}`.as("action"),
  resourceType: sql<string>`${a.resourceType}`.as("resource_type"),
  resourceId: (override.resourceId ?? sql<string>`${a.resourceId}`).as("resource_id"),
  before: (override.before ?? sql<string>`${JSON.stringify(a.before ?? null)}`).as("before"),
  after: sql<string>`${JSON.stringify(a.after ?? null)}`.as("after"),
  requestId: sql<string>`${a.requestId}`.as("request_id"),
  createdAt: sql<number>`${a.createdAt}`.as("created_at"),
});

/** True while the audit row of this change exists: makes every statement of a batch depend on the first. */
export const guard = (auditId: string): SQL =>
  sql`exists (select 1 from ${t.auditLogs} where ${t.auditLogs.id} = ${auditId})`;

/**
 * The first statement of every compare-and-swap batch: inserts the audit row only if the row still
 * has the row version that was read (and `also` holds, e.g. environmentUnchanged). Every later
 * statement is conditioned on `guard(audit.id)`.
 */
export function auditIfUnchanged(
  db: Db,
  table: typeof t.releases | typeof t.allowlists | typeof t.miniPrograms,
  row: { id: string; rowVersion: number },
  audit: AuditEntry,
  also?: SQL,
) {
  return db.insert(t.auditLogs).select(
    db
      .select(auditColumns(audit))
      .from(table)
      .where(and(eq(table.id, row.id), eq(table.rowVersion, row.rowVersion), also)),
  );
}

/**
 * True while the environment still has the snapshot version its state was measured at (see
 * assertSnapshotFits): every change affecting its delivery bumps it in its own batch.
 */
export const environmentUnchanged = (m: MeasuredEnvironment): SQL =>
  sql`(select ${t.environments.snapshotVersion} from ${t.environments} where ${t.environments.id} = ${m.environmentId}) = ${m.snapshotVersion}`;

/**
 * True while every environment of the workspace is among `measured` with the snapshot version
 * measured: one JSON parameter (`[[id, version], …]`) whatever their number, as D1 binds at most
 * 100 parameters per statement. An environment created since (not measured) makes it false.
 */
export const workspaceEnvironmentsUnchanged = (workspaceId: string, measured: readonly MeasuredEnvironment[]): SQL => {
  const pairs = JSON.stringify(measured.map((m) => [m.environmentId, m.snapshotVersion]));
  return sql`not exists (select 1 from ${t.environments} where ${t.environments.appId} in (select ${t.apps.id} from ${t.apps} where ${t.apps.workspaceId} = ${workspaceId}) and ${t.environments.snapshotVersion} is not (select json_extract(m.value, '$[1]') from json_each(${pairs}) as m where json_extract(m.value, '$[0]') = ${t.environments.id}))`;
};

/**
 * Inserts the audit row only when `condition` holds (selected from the workspace's own row, which
 * exists once): the first statement of a guarded batch, every later one conditioned on guard(audit.id).
 */
export const auditWhen = (db: Db, audit: AuditEntry, condition: SQL | undefined) =>
  db.insert(t.auditLogs).select(
    db
      .select(auditColumns(audit))
      .from(t.workspaces)
      .where(and(eq(t.workspaces.id, audit.workspaceId), condition)),
  );

/** Another person admin of the workspace who has not been removed. */
export const otherAdmin = (member: { id: string; workspaceId: string }): SQL =>
  sql`exists (select 1 from ${t.members} as o where o.workspace_id = ${member.workspaceId} and o.id <> ${member.id} and o.role = 'admin' and o.kind = 'person' and o.removed_at is null)`;

/** "ok" when the batch's guarding audit insert (statement `auditIndex`) wrote its row. */
export async function guarded(run: () => Promise<unknown[]>, auditIndex = 0): Promise<"ok" | "lost"> {
  const results = (await run()) as { meta?: { changes?: number } }[];
  return (results[auditIndex]?.meta?.changes ?? 0) > 0 ? "ok" : "lost";
}

/** Tells a lost race from the last-admin rule after a guarded write changed nothing. */
export const hasOtherAdmin = async (db: Db, member: { id: string; workspaceId: string }) =>
  ((await db.get<{ other: number }>(sql`select ${otherAdmin(member)} as other`))?.other ?? 0) === 1;
