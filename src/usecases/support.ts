import { AppError } from "../domain/errors";
import { can, type Permission } from "../domain/permissions";
import type { AuditEntry, Context, Deps } from "./ports";

/** Throws FORBIDDEN unless the actor holds the permission (on the mini program, when given). */
export function requirePermission(ctx: Context, permission: Permission, miniProgramId?: string): void {
  if (!can(ctx.actor, permission, miniProgramId)) {
    throw new AppError("FORBIDDEN", "Your role or token does not allow this action.");
  }
}

/** MINI_PROGRAM_REMOVED for a mini program whose removal was approved: it is kept read-only. */
export function refuseRemoved(mp: { removedAt?: number | null }): void {
  if ((mp.removedAt ?? null) !== null) throw removedError();
}

export function removedError(): AppError {
  return new AppError(
    "MINI_PROGRAM_REMOVED",
    "This mini program was removed: it can be read, but nothing can be uploaded, released or edited.",
  );
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
