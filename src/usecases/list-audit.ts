import type { Context, Deps } from "./ports";
import { requirePermission } from "./support";

/** The workspace's audit log, newest first, paged by an opaque cursor. */
export async function listAudit(deps: Deps, ctx: Context, cursor: string | null, limit: number) {
  requirePermission(ctx, "audit:read");
  return deps.store.listAudit(ctx.actor.workspaceId, cursor, limit);
}
