import { AppError } from "../domain/errors";
import type { MiniProgramRole } from "../domain/permissions";
import type { Context, Deps } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

async function miniProgramOf(deps: Deps, ctx: Context, miniProgramId: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  return mp;
}

/** The members of a mini program with their roles there. */
export async function listMiniProgramMembers(deps: Deps, ctx: Context, miniProgramId: string) {
  const mp = await miniProgramOf(deps, ctx, miniProgramId);
  requirePermission(ctx, "mini_program:read", mp.id);
  return (await deps.store.listMiniProgramMembers(mp.id)).map(({ memberId, role, createdAt }) => ({
    memberId,
    role,
    createdAt,
  }));
}

/**
 * Gives a workspace member a role on the mini program (mini program admins and workspace admins).
 * NOT_FOUND for a member of another workspace or a removed one.
 */
export async function setMiniProgramMember(
  deps: Deps,
  ctx: Context,
  miniProgramId: string,
  memberId: string,
  role: MiniProgramRole,
) {
  const mp = await miniProgramOf(deps, ctx, miniProgramId);
  const member = await deps.store.getMember(ctx.actor.workspaceId, memberId);
  if (member === null || member.removedAt !== null) throw notFound("The member");
  requirePermission(ctx, "mini_program:write", mp.id);
  const now = deps.clock.now();
  const before = (await deps.store.memberMiniProgramRoles(member.id)).find((r) => r.miniProgramId === mp.id);
  const audit = auditEntry(deps, ctx, {
    action: "mini_program.member.set",
    resourceType: "mini_program",
    resourceId: mp.id,
    before: before ? { memberId: member.id, role: before.role } : null,
    after: { memberId: member.id, role },
  });
  const record = { miniProgramId: mp.id, memberId: member.id, role, createdAt: before?.createdAt ?? now };
  if ((await deps.store.setMiniProgramMember(record, audit)) === "conflict") throw notFound("The member");
  return { memberId: member.id, role, createdAt: record.createdAt };
}

/** Takes a member's role on the mini program away; NOT_FOUND when it had none. */
export async function removeMiniProgramMember(deps: Deps, ctx: Context, miniProgramId: string, memberId: string) {
  const mp = await miniProgramOf(deps, ctx, miniProgramId);
  const member = await deps.store.getMember(ctx.actor.workspaceId, memberId);
  if (member === null) throw notFound("The member");
  requirePermission(ctx, "mini_program:write", mp.id);
  const before = (await deps.store.memberMiniProgramRoles(member.id)).find((r) => r.miniProgramId === mp.id);
  if (before === undefined) throw notFound("The member's role on this mini program");
  const audit = auditEntry(deps, ctx, {
    action: "mini_program.member.remove",
    resourceType: "mini_program",
    resourceId: mp.id,
    before: { memberId: member.id, role: before.role },
    after: null,
  });
  if ((await deps.store.removeMiniProgramMember(mp.id, member.id, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The role was changed by someone else; read it again.");
  }
  return { memberId: member.id, role: before.role };
}
