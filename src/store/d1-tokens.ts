import { and, desc, eq, getTableColumns, isNull, or, type SQL, sql } from "drizzle-orm";
import type { Actor } from "../domain/permissions";
import { LAST_USE_RESOLUTION_MS } from "../domain/tokens";
import type { AccessStore, GuardedWrite, NewToken, TokenRecord } from "../usecases/access-ports";
import {
  auditInsert,
  auditWhen,
  type Db,
  guard,
  guarded,
  isUniqueViolation,
  otherAdmin,
  uniqueOrConflict,
} from "./d1-helpers";
import * as t from "./schema";

/** A token row that still works at `now`. */
const live = (now: number): SQL =>
  and(isNull(t.apiTokens.revokedAt), or(isNull(t.apiTokens.expiresAt), sql`${t.apiTokens.expiresAt} > ${now}`)) as SQL;

export function tokenRow(token: NewToken) {
  return {
    ...token,
    lastUsedAt: null,
    revokedAt: null,
    replacedBy: null,
    scopes: { ...token.scopes },
  } as typeof t.apiTokens.$inferInsert;
}

/** The new token's row as constant columns of an INSERT … SELECT, in the table's column order. */
export function tokenColumns(token: NewToken) {
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

type TokenMethods = Pick<
  AccessStore,
  "actorForToken" | "touchToken" | "createToken" | "listTokens" | "getToken" | "revokeToken" | "rotateToken"
>;

/** API tokens: lookup by the hash of the presented secret, creation, revocation, rotation. */
export function tokenMethods(db: Db): TokenMethods {
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
              sql`exists (select 1 from ${t.apiTokens} as k where k.id = ${old.id} and k.revoked_at is null and k.replaced_by is null and (k.expires_at is null or k.expires_at > ${next.createdAt}))`,
            ),
            db
              .update(t.apiTokens)
              .set({ expiresAt: oldExpiresAt, replacedBy: next.id })
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
  };
}
