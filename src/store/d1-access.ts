import { and, desc, eq, getTableColumns, gte, isNull, lt, ne, or, type SQL, sql } from "drizzle-orm";
import type { Actor } from "../domain/permissions";
import { LAST_USE_RESOLUTION_MS } from "../domain/tokens";
import type {
  AccessStore,
  GuardedWrite,
  MemberRecord,
  NewToken,
  TokenRecord,
  WorkspaceRecord,
} from "../usecases/access-ports";
import type { AuditEntry } from "../usecases/ports";
import { auditColumns, auditInsert, type Db, guard, isUniqueViolation, uniqueOrConflict } from "./d1-helpers";
import * as t from "./schema";

/**
 * Inserts the audit row only when `condition` holds (selected from the workspace's own row, which
 * exists once): the first statement of a guarded batch, every later one conditioned on guard(audit.id).
 */
const auditWhen = (db: Db, audit: AuditEntry, condition: SQL | undefined) =>
  db.insert(t.auditLogs).select(
    db
      .select(auditColumns(audit))
      .from(t.workspaces)
      .where(and(eq(t.workspaces.id, audit.workspaceId), condition)),
  );

/** A token row that still works at `now`. */
const live = (now: number): SQL =>
  and(isNull(t.apiTokens.revokedAt), or(isNull(t.apiTokens.expiresAt), sql`${t.apiTokens.expiresAt} > ${now}`)) as SQL;

/** Another person admin of the workspace who has not been removed. */
const otherAdmin = (member: { id: string; workspaceId: string }): SQL =>
  sql`exists (select 1 from ${t.members} as o where o.workspace_id = ${member.workspaceId} and o.id <> ${member.id} and o.role = 'admin' and o.kind = 'person' and o.removed_at is null)`;

function tokenRow(token: NewToken) {
  return {
    ...token,
    lastUsedAt: null,
    revokedAt: null,
    scopes: { ...token.scopes },
  } as typeof t.apiTokens.$inferInsert;
}

/** The new token's row as constant columns of an INSERT … SELECT, in the table's column order. */
function tokenColumns(token: NewToken) {
  const row = tokenRow(token) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(getTableColumns(t.apiTokens)).map(([key, column]) => {
      const v = row[key] ?? null;
      return [key, sql`${v !== null && typeof v === "object" ? JSON.stringify(v) : v}`.as(column.name)];
    }),
  ) as Record<keyof typeof t.apiTokens.$inferSelect, SQL.Aliased>;
}

function asToken(row: typeof t.apiTokens.$inferSelect): TokenRecord {
  const { tokenHash: _hash, ...rest } = row;
  return rest;
}

async function guarded(run: () => Promise<unknown[]>, auditIndex = 0): Promise<"ok" | "lost"> {
  const results = (await run()) as { meta?: { changes?: number } }[];
  return (results[auditIndex]?.meta?.changes ?? 0) > 0 ? "ok" : "lost";
}

export function accessMethods(db: Db): AccessStore {
  /** Tells a lost race from the last-admin rule after a guarded write changed nothing. */
  const hasOtherAdmin = async (member: { id: string; workspaceId: string }) =>
    (await db
      .select({ id: t.members.id })
      .from(t.members)
      .where(
        and(
          eq(t.members.workspaceId, member.workspaceId),
          ne(t.members.id, member.id),
          eq(t.members.role, "admin"),
          eq(t.members.kind, "person"),
          isNull(t.members.removedAt),
        ),
      )
      .get()) !== undefined;
  const getToken = async (workspaceId: string, tokenId: string) => {
    const row = await db
      .select()
      .from(t.apiTokens)
      .where(and(eq(t.apiTokens.workspaceId, workspaceId), eq(t.apiTokens.id, tokenId)))
      .get();
    return row ? asToken(row) : null;
  };
  return {
    async actorForToken(tokenHash, now) {
      const row = await db
        .select({ token: t.apiTokens, member: t.members })
        .from(t.apiTokens)
        .innerJoin(t.members, eq(t.members.id, t.apiTokens.memberId))
        .where(and(eq(t.apiTokens.tokenHash, tokenHash), live(now), isNull(t.members.removedAt)))
        .get();
      if (!row) return null;
      const grants = await db
        .select({ miniProgramId: t.miniProgramMembers.miniProgramId, role: t.miniProgramMembers.role })
        .from(t.miniProgramMembers)
        .where(eq(t.miniProgramMembers.memberId, row.member.id));
      const actor: Actor & { lastUsedAt: number | null } = {
        memberId: row.member.id,
        workspaceId: row.member.workspaceId,
        tokenId: row.token.id,
        kind: row.member.kind,
        role: row.member.role,
        miniProgramRoles: Object.fromEntries(grants.map((g) => [g.miniProgramId, g.role])),
        scope: row.token.scopes,
        tokenExpiresAt: row.token.expiresAt,
        lastUsedAt: row.token.lastUsedAt,
      };
      return actor;
    },

    async touchToken(tokenId, now) {
      // Conditional, so isolates racing on the same token write it once a minute at most.
      await db
        .update(t.apiTokens)
        .set({ lastUsedAt: now })
        .where(
          and(
            eq(t.apiTokens.id, tokenId),
            or(isNull(t.apiTokens.lastUsedAt), sql`${t.apiTokens.lastUsedAt} <= ${now - LAST_USE_RESOLUTION_MS}`),
          ),
        );
    },

    hasWorkspace: async () =>
      (await db.select({ id: t.workspaces.id }).from(t.workspaces).limit(1).get()) !== undefined,

    createWorkspace: ({ workspace, member, token, audit }) =>
      uniqueOrConflict(() =>
        db.batch([
          db.insert(t.workspaces).values(workspace),
          db.insert(t.members).values(member),
          db.insert(t.apiTokens).values(tokenRow(token)),
          auditInsert(db, audit),
        ]),
      ),

    getWorkspace: async (id) => (await db.select().from(t.workspaces).where(eq(t.workspaces.id, id)).get()) ?? null,

    async updateWorkspace(workspace: WorkspaceRecord, changes, audit) {
      const ok = guard(audit.id);
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(db, audit, eq(t.workspaces.rowVersion, workspace.rowVersion)),
          db
            .update(t.workspaces)
            .set({ ...changes, rowVersion: workspace.rowVersion + 1 })
            .where(and(eq(t.workspaces.id, workspace.id), ok)),
        ]),
      );
      return outcome === "ok" ? "ok" : "conflict";
    },

    createMember: (member, invite, roles, audit) =>
      uniqueOrConflict(() =>
        db.batch([
          db.insert(t.members).values(member),
          ...(invite ? [db.insert(t.memberInvites).values(invite)] : []),
          ...roles.map((r) => db.insert(t.miniProgramMembers).values(r)),
          auditInsert(db, audit),
        ]),
      ),

    listMembers: (workspaceId, includeRemoved) =>
      db
        .select()
        .from(t.members)
        .where(and(eq(t.members.workspaceId, workspaceId), includeRemoved ? undefined : isNull(t.members.removedAt)))
        .orderBy(t.members.handle),

    getMember: async (workspaceId, memberId) =>
      (await db
        .select()
        .from(t.members)
        .where(and(eq(t.members.workspaceId, workspaceId), eq(t.members.id, memberId)))
        .get()) ?? null,

    async updateMember(member: MemberRecord, changes, audit): Promise<GuardedWrite> {
      const demoting = member.role === "admin" && changes.role !== "admin" && member.kind === "person";
      const ok = guard(audit.id);
      const unchanged = sql`(select row_version from ${t.members} where id = ${member.id}) = ${member.rowVersion}`;
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(db, audit, and(unchanged, demoting ? otherAdmin(member) : undefined)),
          db
            .update(t.members)
            .set({ ...changes, rowVersion: member.rowVersion + 1 })
            .where(and(eq(t.members.id, member.id), ok)),
        ]),
      );
      if (outcome === "ok") return "ok";
      return demoting && !(await hasOtherAdmin(member)) ? "last_admin" : "conflict";
    },

    async removeMember(member, now, audit): Promise<GuardedWrite> {
      const admin = member.role === "admin" && member.kind === "person";
      const ok = guard(audit.id);
      const unchanged = sql`(select row_version from ${t.members} where id = ${member.id} and removed_at is null) = ${member.rowVersion}`;
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(db, audit, and(unchanged, admin ? otherAdmin(member) : undefined)),
          db
            .update(t.members)
            .set({ removedAt: now, rowVersion: member.rowVersion + 1 })
            .where(and(eq(t.members.id, member.id), ok)),
          db
            .update(t.apiTokens)
            .set({ revokedAt: now })
            .where(and(eq(t.apiTokens.memberId, member.id), isNull(t.apiTokens.revokedAt), ok)),
          db
            .update(t.memberInvites)
            .set({ usedAt: now })
            .where(and(eq(t.memberInvites.memberId, member.id), isNull(t.memberInvites.usedAt), ok)),
          db.delete(t.miniProgramMembers).where(and(eq(t.miniProgramMembers.memberId, member.id), ok)),
        ]),
      );
      if (outcome === "ok") return "ok";
      return admin && !(await hasOtherAdmin(member)) ? "last_admin" : "conflict";
    },

    async createInvite(invite, audit) {
      const ok = guard(audit.id);
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(
            db,
            audit,
            sql`exists (select 1 from ${t.members} where id = ${invite.memberId} and removed_at is null)`,
          ),
          db
            .update(t.memberInvites)
            .set({ usedAt: invite.createdAt })
            .where(and(eq(t.memberInvites.memberId, invite.memberId), isNull(t.memberInvites.usedAt), ok)),
          db.insert(t.memberInvites).select(
            db
              .select({
                id: sql<string>`${invite.id}`.as("id"),
                workspaceId: sql<string>`${invite.workspaceId}`.as("workspace_id"),
                memberId: sql<string>`${invite.memberId}`.as("member_id"),
                secretHash: sql<string>`${invite.secretHash}`.as("secret_hash"),
                expiresAt: sql<number>`${invite.expiresAt}`.as("expires_at"),
                usedAt: sql<null>`null`.as("used_at"),
                createdBy: sql<string>`${invite.createdBy}`.as("created_by"),
                createdAt: sql<number>`${invite.createdAt}`.as("created_at"),
              })
              .from(t.workspaces)
              .where(and(eq(t.workspaces.id, invite.workspaceId), ok)),
          ),
        ]),
      );
      return outcome === "ok" ? "ok" : "conflict";
    },

    async acceptInvite(secretHash, now, unowned, makeAudit) {
      const row = await db
        .select({ invite: t.memberInvites, member: t.members })
        .from(t.memberInvites)
        .innerJoin(t.members, eq(t.members.id, t.memberInvites.memberId))
        .where(
          and(
            eq(t.memberInvites.secretHash, secretHash),
            isNull(t.memberInvites.usedAt),
            sql`${t.memberInvites.expiresAt} > ${now}`,
            isNull(t.members.removedAt),
          ),
        )
        .get();
      if (!row) return null;
      const token = { ...unowned, memberId: row.member.id, workspaceId: row.member.workspaceId };
      const audit = makeAudit(row.member, token);
      const ok = guard(audit.id);
      // The invite is used up by the first statement, so two racing exchanges make one token.
      const results = await db.batch([
        db
          .update(t.memberInvites)
          .set({ usedAt: now })
          .where(and(eq(t.memberInvites.id, row.invite.id), isNull(t.memberInvites.usedAt))),
        auditWhen(db, audit, sql`(select used_at from ${t.memberInvites} where id = ${row.invite.id}) = ${now}`),
        db.insert(t.apiTokens).select(
          db
            .select(tokenColumns(token))
            .from(t.workspaces)
            .where(and(eq(t.workspaces.id, row.member.workspaceId), ok)),
        ),
      ]);
      if (((results[0] as { meta?: { changes?: number } }).meta?.changes ?? 0) === 0) return null;
      return { member: row.member, token };
    },

    listMiniProgramMembers: (miniProgramId) =>
      db
        .select()
        .from(t.miniProgramMembers)
        .innerJoin(t.members, eq(t.members.id, t.miniProgramMembers.memberId))
        .where(and(eq(t.miniProgramMembers.miniProgramId, miniProgramId), isNull(t.members.removedAt)))
        .orderBy(t.members.handle)
        .then((rows) => rows.map((r) => r.mini_program_members)),

    memberMiniProgramRoles: (memberId) =>
      db.select().from(t.miniProgramMembers).where(eq(t.miniProgramMembers.memberId, memberId)),

    async setMiniProgramMember(record, audit) {
      const ok = guard(audit.id);
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(
            db,
            audit,
            sql`exists (select 1 from ${t.members} where id = ${record.memberId} and removed_at is null)`,
          ),
          db
            .insert(t.miniProgramMembers)
            .select(
              db
                .select({
                  miniProgramId: sql<string>`${record.miniProgramId}`.as("mini_program_id"),
                  memberId: sql<string>`${record.memberId}`.as("member_id"),
                  role: sql<string>`${record.role}`.as("role"),
                  createdAt: sql<number>`${record.createdAt}`.as("created_at"),
                })
                .from(t.workspaces)
                .where(and(eq(t.workspaces.id, audit.workspaceId), ok)),
            )
            .onConflictDoUpdate({
              target: [t.miniProgramMembers.miniProgramId, t.miniProgramMembers.memberId],
              set: { role: record.role },
            }),
        ]),
      );
      return outcome === "ok" ? "ok" : "conflict";
    },

    async removeMiniProgramMember(miniProgramId, memberId, audit) {
      const ok = guard(audit.id);
      const row = and(
        eq(t.miniProgramMembers.miniProgramId, miniProgramId),
        eq(t.miniProgramMembers.memberId, memberId),
      );
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(db, audit, sql`exists (select 1 from ${t.miniProgramMembers} where ${row})`),
          db.delete(t.miniProgramMembers).where(and(row, ok)),
        ]),
      );
      return outcome === "ok" ? "ok" : "conflict";
    },

    createToken: (token, audit) =>
      uniqueOrConflict(() => db.batch([db.insert(t.apiTokens).values(tokenRow(token)), auditInsert(db, audit)])),

    listTokens: async (workspaceId, memberId) =>
      (
        await db
          .select()
          .from(t.apiTokens)
          .where(
            and(eq(t.apiTokens.workspaceId, workspaceId), memberId ? eq(t.apiTokens.memberId, memberId) : undefined),
          )
          .orderBy(desc(t.apiTokens.createdAt), desc(t.apiTokens.id))
      ).map(asToken),

    getToken,

    async revokeToken(token, now, audit): Promise<GuardedWrite> {
      const ok = guard(audit.id);
      // Never the last live token of the last person admin: the workspace would have nobody left
      // who could manage it.
      const keepsAnAdmin = sql`(not exists (select 1 from ${t.members} as m where m.id = ${token.memberId} and m.role = 'admin' and m.kind = 'person') or ${otherAdmin(
        { id: token.memberId, workspaceId: token.workspaceId },
      )} or exists (select 1 from ${t.apiTokens} as k where k.member_id = ${token.memberId} and k.id <> ${token.id} and k.revoked_at is null and (k.expires_at is null or k.expires_at > ${now})))`;
      const stillLive = sql`exists (select 1 from ${t.apiTokens} as k where k.id = ${token.id} and k.revoked_at is null)`;
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(db, audit, and(stillLive, keepsAnAdmin)),
          db
            .update(t.apiTokens)
            .set({ revokedAt: now })
            .where(and(eq(t.apiTokens.id, token.id), ok)),
        ]),
      );
      if (outcome === "ok") return "ok";
      const current = await getToken(token.workspaceId, token.id);
      return current !== null && current.revokedAt === null ? "last_admin" : "conflict";
    },

    async rotateToken(old, next, oldExpiresAt, audit) {
      const ok = guard(audit.id);
      try {
        const outcome = await guarded(() =>
          db.batch([
            auditWhen(
              db,
              audit,
              sql`exists (select 1 from ${t.apiTokens} as k where k.id = ${old.id} and k.revoked_at is null and (k.expires_at is null or k.expires_at > ${next.createdAt}))`,
            ),
            db
              .update(t.apiTokens)
              .set({ expiresAt: oldExpiresAt })
              .where(and(eq(t.apiTokens.id, old.id), ok)),
            db.insert(t.apiTokens).select(
              db
                .select(tokenColumns(next))
                .from(t.workspaces)
                .where(and(eq(t.workspaces.id, next.workspaceId), ok)),
            ),
          ]),
        );
        return outcome === "ok" ? "ok" : "conflict";
      } catch (error) {
        if (isUniqueViolation(error)) return "conflict";
        throw error;
      }
    },

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
