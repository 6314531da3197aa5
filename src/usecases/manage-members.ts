import { AppError } from "../domain/errors";
import { FULL_SCOPE, type MemberKind, type MiniProgramRole, type WorkspaceRole } from "../domain/permissions";
import { DEFAULT_TOKEN_TTL_MS, INVITE_SECRET, INVITE_TTL_MS } from "../domain/tokens";
import type { InviteRecord, MemberRecord, MiniProgramMemberRecord } from "./access-ports";
import { throttled } from "./authenticate";
import { mintToken, tokenView } from "./manage-tokens";
import type { Context, Deps } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

/** A member as the API shows it and the audit log records it. */
export function memberView(m: MemberRecord) {
  return {
    id: m.id,
    handle: m.handle,
    name: m.name,
    email: m.email === "" ? null : m.email,
    kind: m.kind,
    role: m.role,
    createdBy: m.createdBy,
    createdAt: m.createdAt,
    removedAt: m.removedAt,
  };
}

export interface AddMemberInput {
  kind: MemberKind;
  name: string;
  /** Lower-cased; defaults to the e-mail address. */
  handle?: string;
  email?: string;
  role: WorkspaceRole;
  miniProgramRoles?: { miniProgramId: string; role: MiniProgramRole }[];
}

/**
 * Adds a person (who gets an invite: a one-time secret, shown once, exchanged for a first token)
 * or a service account (whose tokens an admin creates). CONFLICT when the handle is taken.
 */
export async function addMember(deps: Deps, ctx: Context, input: AddMemberInput) {
  requirePermission(ctx, "member:write");
  const handle = (input.handle ?? input.email ?? "").toLowerCase();
  const now = deps.clock.now();
  const member: MemberRecord = {
    id: deps.ids.id("mem"),
    workspaceId: ctx.actor.workspaceId,
    name: input.name,
    email: input.email ?? "",
    handle,
    kind: input.kind,
    role: input.role,
    createdBy: ctx.actor.memberId,
    createdAt: now,
    removedAt: null,
    rowVersion: 1,
  };
  const roles: MiniProgramMemberRecord[] = [];
  for (const [i, r] of (input.miniProgramRoles ?? []).entries()) {
    const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, r.miniProgramId);
    if (mp === null) throw notFound(`The mini program of /miniProgramRoles/${i}`);
    if (roles.some((x) => x.miniProgramId === mp.id)) continue;
    roles.push({ miniProgramId: mp.id, memberId: member.id, role: r.role, createdAt: now });
  }
  const invite =
    input.kind === "person" ? await newInvite(deps, ctx.actor.workspaceId, member.id, ctx.actor.memberId) : null;
  const audit = auditEntry(deps, ctx, {
    action: "member.add",
    resourceType: "member",
    resourceId: member.id,
    before: null,
    after: {
      ...memberView(member),
      miniProgramRoles: roles.map(({ miniProgramId, role }) => ({ miniProgramId, role })),
    },
  });
  if ((await deps.store.createMember(member, invite?.record ?? null, roles, audit)) === "conflict") {
    throw new AppError("CONFLICT", "A member with this handle already exists.", [
      { pointer: input.handle === undefined ? "/email" : "/handle", message: "Already taken in this workspace." },
    ]);
  }
  return {
    ...memberView(member),
    invite: invite === null ? null : { secret: invite.secret, expiresAt: invite.record.expiresAt },
  };
}

/** A new invite (its secret, shown once, and the record that stores only its hash). */
export async function newInvite(deps: Deps, workspaceId: string, memberId: string, createdBy: string) {
  const secret = deps.ids.invite();
  const now = deps.clock.now();
  const record: InviteRecord = {
    id: deps.ids.id("inv"),
    workspaceId,
    memberId,
    secretHash: await deps.hasher.sha256Hex(secret),
    expiresAt: now + INVITE_TTL_MS,
    createdBy,
    createdAt: now,
  };
  return { secret, record };
}

/** A new invite for a person (lost or expired one, or a member who lost every token); older invites stop working. */
export async function reinviteMember(deps: Deps, ctx: Context, memberId: string) {
  requirePermission(ctx, "member:write");
  const member = await liveMember(deps, ctx, memberId);
  if (member.kind !== "person") {
    throw new AppError("CONFLICT", "Service accounts have no invites: create a token for them.");
  }
  const invite = await newInvite(deps, ctx.actor.workspaceId, member.id, ctx.actor.memberId);
  const audit = auditEntry(deps, ctx, {
    action: "member.invite",
    resourceType: "member",
    resourceId: member.id,
    before: null,
    after: { inviteId: invite.record.id, expiresAt: invite.record.expiresAt },
  });
  if ((await deps.store.createInvite(invite.record, audit)) === "conflict") throw notFound("The member");
  return { secret: invite.secret, expiresAt: invite.record.expiresAt };
}

/**
 * Exchanges an invite secret for the member's first token (90 days, full scope). The caller is not
 * authenticated: failures count toward the client address's limit like bad tokens.
 */
export async function acceptInvite(
  deps: Deps,
  input: { secret: string; tokenName?: string },
  client: string,
  requestId: string,
) {
  const now = deps.clock.now();
  await throttled(deps, client, now);
  const hash = INVITE_SECRET.test(input.secret) ? await deps.hasher.sha256Hex(input.secret) : null;
  // The owner is known only once the invite is found: the store fills it in.
  const { token, secret } = await mintToken(deps, {
    workspaceId: "",
    memberId: "",
    name: input.tokenName ?? "first token",
    scopes: FULL_SCOPE,
    expiresAt: now + DEFAULT_TOKEN_TTL_MS,
    createdBy: null,
  });
  const accepted =
    hash === null
      ? null
      : await deps.store.acceptInvite(hash, now, token, (member, owned) => ({
          id: deps.ids.id("aud"),
          workspaceId: member.workspaceId,
          actorMemberId: member.id,
          actorTokenId: owned.id,
          action: "member.accept_invite",
          resourceType: "token",
          resourceId: owned.id,
          before: null,
          after: tokenView(owned),
          requestId,
          createdAt: now,
        }));
  if (accepted === null) {
    await deps.throttle.fail(client, now);
    throw new AppError("UNAUTHENTICATED", "The invite is unknown, used or expired.");
  }
  return { member: memberView(accepted.member), token: { ...tokenView(accepted.token), secret } };
}

export async function listMembers(deps: Deps, ctx: Context, includeRemoved: boolean) {
  requirePermission(ctx, "workspace:read");
  return (await deps.store.listMembers(ctx.actor.workspaceId, includeRemoved)).map(memberView);
}

export async function getMember(deps: Deps, ctx: Context, memberId: string) {
  requirePermission(ctx, "workspace:read");
  const member = await deps.store.getMember(ctx.actor.workspaceId, memberId);
  if (member === null) throw notFound("The member");
  const roles = await deps.store.memberMiniProgramRoles(member.id);
  return { ...memberView(member), miniProgramRoles: roles.map(({ miniProgramId, role }) => ({ miniProgramId, role })) };
}

async function liveMember(deps: Deps, ctx: Context, memberId: string) {
  const member = await deps.store.getMember(ctx.actor.workspaceId, memberId);
  if (member === null || member.removedAt !== null) throw notFound("The member");
  return member;
}

const LAST_ADMIN = "The workspace's last admin cannot be removed or demoted: make another member admin first.";

/** Changes a member's role or name. LAST_ADMIN when it would demote the last person admin. */
export async function updateMember(
  deps: Deps,
  ctx: Context,
  memberId: string,
  input: { role?: WorkspaceRole; name?: string },
) {
  requirePermission(ctx, "member:write");
  const member = await liveMember(deps, ctx, memberId);
  const changes = { role: input.role ?? member.role, name: input.name ?? member.name };
  const audit = auditEntry(deps, ctx, {
    action: "member.update",
    resourceType: "member",
    resourceId: member.id,
    before: { role: member.role, name: member.name },
    after: changes,
  });
  const result = await deps.store.updateMember(member, changes, audit);
  if (result === "last_admin")
    throw new AppError("LAST_ADMIN", LAST_ADMIN, [{ pointer: "/role", message: LAST_ADMIN }]);
  if (result === "conflict") throw new AppError("CONFLICT", "The member was changed by someone else; read it again.");
  return memberView({ ...member, ...changes, rowVersion: member.rowVersion + 1 });
}

/**
 * Removes a member: its tokens stop working on the next request, its invites and mini program
 * roles go; the row stays for the audit history. Service accounts it created stay.
 */
export async function removeMember(deps: Deps, ctx: Context, memberId: string) {
  requirePermission(ctx, "member:write");
  const member = await liveMember(deps, ctx, memberId);
  const now = deps.clock.now();
  const audit = auditEntry(deps, ctx, {
    action: "member.remove",
    resourceType: "member",
    resourceId: member.id,
    before: memberView(member),
    after: { removedAt: now },
  });
  const result = await deps.store.removeMember(member, now, audit);
  if (result === "last_admin") throw new AppError("LAST_ADMIN", LAST_ADMIN);
  if (result === "conflict") throw new AppError("CONFLICT", "The member was changed by someone else; read it again.");
  return memberView({ ...member, removedAt: now });
}
