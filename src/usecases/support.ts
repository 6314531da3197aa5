import { AppError } from "../domain/errors";
import { can, type Permission } from "../domain/permissions";
import type { AuditEntry, Context, Deps } from "./ports";

/** Throws FORBIDDEN unless the actor holds the permission (on the mini program, when given). */
export function requirePermission(ctx: Context, permission: Permission, miniProgramId?: string): void {
  if (!can(ctx.actor, permission, miniProgramId)) {
    throw new AppError("FORBIDDEN", "Your role or token does not allow this action.");
  }
}

export function notFound(what: string): AppError {
  return new AppError("NOT_FOUND", `${what} was not found.`);
}

/** An audit entry for a change made by the acting member in this request. */
export function auditEntry(
  deps: Deps,
  ctx: Context,
  change: { action: string; resourceType: string; resourceId: string; before: unknown; after: unknown },
): AuditEntry {
  return {
    id: deps.ids.id("aud"),
    workspaceId: ctx.actor.workspaceId,
    actorMemberId: ctx.actor.memberId,
    actorTokenId: ctx.actor.tokenId,
    requestId: ctx.requestId,
    createdAt: deps.clock.now(),
    ...change,
  };
}
