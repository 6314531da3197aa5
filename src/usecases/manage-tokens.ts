import { AppError } from "../domain/errors";
import { can, roleGrants, type TokenAccess, type TokenScope } from "../domain/permissions";
import { DEFAULT_ROTATION_OVERLAP_S, scopeWithin, secretPrefix, tokenExpiry } from "../domain/tokens";
import type { MemberRecord, NewToken, TokenRecord } from "./access-ports";
import type { Context, Deps } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

/** A new token for `memberId` and its secret (shown once; only its hash is stored). */
export async function mintToken(
  deps: Deps,
  fields: Pick<NewToken, "workspaceId" | "memberId" | "name" | "scopes" | "expiresAt" | "createdBy">,
): Promise<{ token: NewToken; secret: string }> {
  const secret = deps.ids.token();
  const token: NewToken = {
    id: deps.ids.id("tok"),
    ...fields,
    prefix: secretPrefix(secret),
    tokenHash: await deps.hasher.sha256Hex(secret),
    createdAt: deps.clock.now(),
  };
  return { token, secret };
}

/** A token as the API shows it and the audit log records it: never its hash. */
export function tokenView(token: TokenRecord | NewToken) {
  return {
    id: token.id,
    memberId: token.memberId,
    name: token.name,
    prefix: token.prefix,
    scopes: {
      access: token.scopes.access,
      miniProgramIds: token.scopes.miniProgramIds === null ? null : [...token.scopes.miniProgramIds],
    },
    expiresAt: token.expiresAt,
    lastUsedAt: "lastUsedAt" in token ? token.lastUsedAt : null,
    createdBy: token.createdBy,
    createdAt: token.createdAt,
    revokedAt: "revokedAt" in token ? token.revokedAt : null,
    replacedBy: "replacedBy" in token ? token.replacedBy : null,
  };
}

export interface CreateTokenInput {
  name: string;
  /** ms since the epoch; null: never (service accounts, by an admin); omitted: 90 days. */
  expiresAt?: number | null;
  scopes?: { access: TokenAccess; miniProgramIds?: string[] | null };
  /** A service account of the workspace; omitted: the actor itself. */
  memberId?: string;
}

/**
 * Creates a token for the actor, or (workspace admins) for a service account. The scope defaults to
 * the presenting token's and may never be wider than it (SCOPE_TOO_WIDE), nor name mini programs
 * the owner has no role on. Returns the secret once.
 */
export async function createToken(deps: Deps, ctx: Context, input: CreateTokenInput) {
  requirePermission(ctx, "token:self");
  const owner = await ownerOf(deps, ctx, input.memberId);
  const asked: TokenScope =
    input.scopes === undefined
      ? ctx.actor.scope
      : { access: input.scopes.access, miniProgramIds: input.scopes.miniProgramIds ?? null };
  const scope = await fittingScope(deps, ctx, owner, asked);
  const now = deps.clock.now();
  const expiry = tokenExpiry(input.expiresAt, now, owner.kind === "service" && can(ctx.actor, "token:admin"));
  if ("error" in expiry) throw new AppError("INVALID_EXPIRY", "The expiry is not allowed.", [expiry.error]);
  const { token, secret } = await mintToken(deps, {
    workspaceId: ctx.actor.workspaceId,
    memberId: owner.id,
    name: input.name,
    scopes: scope,
    expiresAt: expiry.expiresAt,
    createdBy: ctx.actor.memberId,
  });
  const audit = auditEntry(deps, ctx, {
    action: "token.create",
    resourceType: "token",
    resourceId: token.id,
    before: null,
    after: tokenView(token),
  });
  if ((await deps.store.createToken(token, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The token could not be stored; retry.");
  }
  return { ...tokenView(token), secret };
}

/** The owner of a new token: the actor, or a live service account of the workspace (admins only). */
async function ownerOf(deps: Deps, ctx: Context, memberId: string | undefined): Promise<MemberRecord> {
  const id = memberId ?? ctx.actor.memberId;
  const owner = await deps.store.getMember(ctx.actor.workspaceId, id);
  if (owner === null || owner.removedAt !== null) throw notFound("The member");
  if (owner.id === ctx.actor.memberId) return owner;
  requirePermission(ctx, "token:admin");
  if (owner.kind !== "service") {
    throw new AppError("FORBIDDEN", "A person creates their own tokens; admins create tokens for service accounts.");
  }
  return owner;
}

/**
 * The scope with mini program keys resolved to ids. SCOPE_TOO_WIDE unless it is within the
 * presenting token's and names only mini programs of the workspace (else NOT_FOUND) that the
 * owner's role reaches.
 */
async function fittingScope(deps: Deps, ctx: Context, owner: MemberRecord, scope: TokenScope): Promise<TokenScope> {
  const ids = scope.miniProgramIds ?? [];
  const found = await Promise.all(ids.map((id) => deps.store.getMiniProgram(ctx.actor.workspaceId, id)));
  if (found.some((mp) => mp === null)) throw notFound("A mini program of the scope");
  // Keys are accepted as well as ids: the scope stores ids.
  const resolved: TokenScope = {
    access: scope.access,
    miniProgramIds: scope.miniProgramIds === null ? null : found.map((mp) => mp?.id ?? ""),
  };
  if (!scopeWithin(resolved, ctx.actor.scope)) {
    throw new AppError("SCOPE_TOO_WIDE", "A token cannot make a token with more rights than itself.", [
      { pointer: "/scopes", message: "Must be within the scopes of the token making it." },
    ]);
  }
  if (resolved.miniProgramIds !== null) {
    const roles = owner.id === ctx.actor.memberId ? ctx.actor.miniProgramRoles : await rolesOf(deps, owner.id);
    const outside = resolved.miniProgramIds.findIndex((id) => !roleGrants(owner.role, roles, "mini_program:read", id));
    if (outside !== -1) {
      throw new AppError("SCOPE_TOO_WIDE", "The scope names a mini program its owner has no role on.", [
        { pointer: `/scopes/miniProgramIds/${outside}`, message: "The owner has no role on this mini program." },
      ]);
    }
  }
  return resolved;
}

async function rolesOf(deps: Deps, memberId: string) {
  const rows = await deps.store.memberMiniProgramRoles(memberId);
  return Object.fromEntries(rows.map((r) => [r.miniProgramId, r.role]));
}

/** The tokens the actor may see: its own, or every token of the workspace for admins (`memberId` filters). */
export async function listTokens(deps: Deps, ctx: Context, memberId: string | null) {
  requirePermission(ctx, "workspace:read");
  const all = can(ctx.actor, "token:admin");
  if (memberId !== null && memberId !== ctx.actor.memberId) {
    const member = await deps.store.getMember(ctx.actor.workspaceId, memberId);
    if (member === null) throw notFound("The member");
    if (!all) throw new AppError("FORBIDDEN", "Only admins see other members' tokens.");
  }
  const owner = memberId ?? (all ? null : ctx.actor.memberId);
  return (await deps.store.listTokens(ctx.actor.workspaceId, owner)).map(tokenView);
}

/** A token the actor owns, or any token of the workspace for admins (who may revoke any in an incident). */
async function visibleToken(deps: Deps, ctx: Context, tokenId: string) {
  const token = await deps.store.getToken(ctx.actor.workspaceId, tokenId);
  if (token === null) throw notFound("The token");
  if (token.memberId !== ctx.actor.memberId) requirePermission(ctx, "token:admin");
  return token;
}

export async function getToken(deps: Deps, ctx: Context, tokenId: string) {
  return tokenView(await visibleToken(deps, ctx, tokenId));
}

/**
 * Revokes a token: refused from the next request on. LAST_ADMIN when it is the last live token
 * of the workspace's last person admin (the workspace would have nobody left to manage it).
 */
export async function revokeToken(deps: Deps, ctx: Context, tokenId: string) {
  const token = await visibleToken(deps, ctx, tokenId);
  // Any token may revoke itself (a CI job retiring its own leaked secret); others need token:self.
  if (token.id !== ctx.actor.tokenId) requirePermission(ctx, "token:self");
  if (token.revokedAt !== null) return tokenView(token);
  const now = deps.clock.now();
  const audit = auditEntry(deps, ctx, {
    action: "token.revoke",
    resourceType: "token",
    resourceId: token.id,
    before: tokenView(token),
    after: { revokedAt: now },
  });
  const result = await deps.store.revokeToken(token, now, audit);
  if (result === "last_admin") {
    throw new AppError(
      "LAST_ADMIN",
      "This is the last working token of the workspace's last admin: make another admin (or token) first.",
    );
  }
  return tokenView({ ...token, revokedAt: result === "ok" ? now : (token.revokedAt ?? now) });
}

/**
 * Rotates a token: a new secret with the same owner, name, scopes and expiry; the old secret keeps
 * working for `overlapSeconds` (default one hour, at most a day) so deployments can switch over.
 */
export async function rotateToken(deps: Deps, ctx: Context, tokenId: string, overlapSeconds?: number) {
  requirePermission(ctx, "token:self");
  const old = await visibleToken(deps, ctx, tokenId);
  const owner = await deps.store.getMember(ctx.actor.workspaceId, old.memberId);
  if (owner === null || owner.removedAt !== null) throw notFound("The token");
  if (owner.id !== ctx.actor.memberId && owner.kind !== "service") {
    throw new AppError("FORBIDDEN", "Admins rotate only their own and service accounts' tokens.");
  }
  const now = deps.clock.now();
  if (old.revokedAt !== null || (old.expiresAt !== null && old.expiresAt <= now)) {
    throw new AppError("CONFLICT", "The token is revoked or expired; create a new one.");
  }
  if (old.replacedBy !== null) {
    throw new AppError("CONFLICT", "The token was rotated already: rotate its replacement.");
  }
  if (!scopeWithin(old.scopes, ctx.actor.scope)) {
    throw new AppError("SCOPE_TOO_WIDE", "A token cannot rotate a token with more rights than itself.");
  }
  const { token, secret } = await mintToken(deps, {
    workspaceId: old.workspaceId,
    memberId: old.memberId,
    name: old.name,
    scopes: old.scopes,
    expiresAt: old.expiresAt,
    createdBy: ctx.actor.memberId,
  });
  const overlapEnd = now + (overlapSeconds ?? DEFAULT_ROTATION_OVERLAP_S) * 1000;
  const oldExpiresAt = old.expiresAt === null ? overlapEnd : Math.min(old.expiresAt, overlapEnd);
  const audit = auditEntry(deps, ctx, {
    action: "token.rotate",
    resourceType: "token",
    resourceId: old.id,
    before: tokenView(old),
    after: { oldExpiresAt, newToken: tokenView(token) },
  });
  if ((await deps.store.rotateToken(old, token, oldExpiresAt, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The token changed meanwhile; read it again.");
  }
  return { ...tokenView(token), secret, previous: { id: old.id, expiresAt: oldExpiresAt } };
}
