import { and, eq, isNull, sql } from "drizzle-orm";
import type { AccessStore, GuardedWrite, MemberRecord, WorkspaceRecord } from "../usecases/access-ports";
import {
  auditInsert,
  auditWhen,
  type Db,
  guard,
  guarded,
  hasOtherAdmin,
  otherAdmin,
  uniqueOrConflict,
} from "./d1-helpers";
import { tokenColumns, tokenRow } from "./d1-tokens";
import * as t from "./schema";

/** The member exists and was not removed. */
const memberPresent = (memberId: string) =>
  sql`exists (select 1 from ${t.members} where id = ${memberId} and removed_at is null)`;

type AccessMethods = Omit<
  AccessStore,
  | "actorForToken"
  | "touchToken"
  | "createToken"
  | "listTokens"
  | "getToken"
  | "revokeToken"
  | "rotateToken"
  | "listAudit"
>;

/** Workspaces, members, invites and mini program roles (tokens: d1-tokens.ts). */
export function accessMethods(db: Db): AccessMethods {
  return {
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
      return demoting && !(await hasOtherAdmin(db, member)) ? "last_admin" : "conflict";
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
      return admin && !(await hasOtherAdmin(db, member)) ? "last_admin" : "conflict";
    },

    async createInvite(invite, audit) {
      const ok = guard(audit.id);
      const outcome = await guarded(() =>
        db.batch([
          auditWhen(db, audit, memberPresent(invite.memberId)),
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
          auditWhen(db, audit, memberPresent(record.memberId)),
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

    async ownsResource(workspaceId, id) {
      const app = sql`(select id from ${t.apps} where workspace_id = ${workspaceId})`;
      const mp = sql`(select id from ${t.miniPrograms} where workspace_id = ${workspaceId})`;
      const row = await db.get<{ owned: number }>(sql`select (
        ${id} = ${workspaceId}
        or exists (select 1 from ${t.members} where id = ${id} and workspace_id = ${workspaceId})
        or exists (select 1 from ${t.apiTokens} where id = ${id} and workspace_id = ${workspaceId})
        or exists (select 1 from ${t.memberInvites} where id = ${id} and workspace_id = ${workspaceId})
        or exists (select 1 from ${t.apps} where id = ${id} and workspace_id = ${workspaceId})
        or exists (select 1 from ${t.environments} where id = ${id} and app_id in ${app})
        or exists (select 1 from ${t.miniPrograms} where id = ${id} and workspace_id = ${workspaceId})
        or exists (select 1 from ${t.versions} where id = ${id} and mini_program_id in ${mp})
        or exists (select 1 from ${t.releases} where id = ${id} and app_id in ${app})
        or exists (select 1 from ${t.allowlists} where id = ${id} and workspace_id = ${workspaceId})
        or exists (select 1 from ${t.auditLogs} where resource_id = ${id} and workspace_id = ${workspaceId})
      ) as owned`);
      return (row?.owned ?? 0) === 1;
    },

    async hasActingAdmin(workspaceId, now) {
      const row = await db.get<{ acting: number }>(sql`select exists (
        select 1 from ${t.members} as m join ${t.apiTokens} as k on k.member_id = m.id
        where m.workspace_id = ${workspaceId} and m.role = 'admin' and m.kind = 'person' and m.removed_at is null
          and k.revoked_at is null and (k.expires_at is null or k.expires_at > ${now})
      ) as acting`);
      return (row?.acting ?? 0) === 1;
    },
  };
}
