import type { AuditFilter } from "./access-ports";
import type { Context, Deps } from "./ports";
import { notFound, requirePermission } from "./support";

/** The actor of changes the deployment operator made. */
export const OPERATOR = "operator";

/**
 * The workspace's audit log, newest first, paged by an opaque cursor and filtered by actor,
 * resource, action and time range. An actor who is not a member of the workspace is NOT_FOUND.
 */
export async function listAudit(deps: Deps, ctx: Context, filter: AuditFilter, cursor: string | null, limit: number) {
  requirePermission(ctx, "audit:read");
  // "operator": the deployment operator's changes (a workspace admin added for recovery).
  if (filter.actorMemberId !== undefined && filter.actorMemberId !== OPERATOR) {
    const member = await deps.store.getMember(ctx.actor.workspaceId, filter.actorMemberId);
    if (member === null) throw notFound("The member");
  }
  if (filter.resourceId !== undefined && !(await deps.store.ownsResource(ctx.actor.workspaceId, filter.resourceId))) {
    throw notFound("The resource");
  }
  return deps.store.listAudit(ctx.actor.workspaceId, filter, cursor, limit);
}
