import type { AuditFilter } from "./access-ports";
import type { Context, Deps } from "./ports";
import { notFound, requirePermission } from "./support";

/**
 * The workspace's audit log, newest first, paged by an opaque cursor and filtered by actor,
 * resource, action and time range. An actor who is not a member of the workspace is NOT_FOUND.
 */
export async function listAudit(deps: Deps, ctx: Context, filter: AuditFilter, cursor: string | null, limit: number) {
  requirePermission(ctx, "audit:read");
  if (filter.actorMemberId !== undefined) {
    const member = await deps.store.getMember(ctx.actor.workspaceId, filter.actorMemberId);
    if (member === null) throw notFound("The member");
  }
  if (filter.resourceId !== undefined) {
    // Every resource's creation is audited: a resource with no record here is not this workspace's.
    const any = await deps.store.listAudit(ctx.actor.workspaceId, { resourceId: filter.resourceId }, null, 1);
    if (any.items.length === 0) throw notFound("The resource");
  }
  return deps.store.listAudit(ctx.actor.workspaceId, filter, cursor, limit);
}
