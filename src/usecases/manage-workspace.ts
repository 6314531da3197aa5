import { AppError } from "../domain/errors";
import type { WorkspaceRecord } from "./access-ports";
import type { Context, Deps } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

export async function getWorkspace(deps: Deps, ctx: Context): Promise<WorkspaceRecord> {
  requirePermission(ctx, "workspace:read");
  const workspace = await deps.store.getWorkspace(ctx.actor.workspaceId);
  if (workspace === null) throw notFound("The workspace");
  return workspace;
}

/** Renames the workspace or changes its settings (audited); a concurrent change is a CONFLICT. */
export async function updateWorkspace(
  deps: Deps,
  ctx: Context,
  input: { name?: string; allowSelfApproval?: boolean; requireSignedUploads?: boolean },
) {
  requirePermission(ctx, "workspace:write");
  const workspace = await getWorkspace(deps, ctx);
  const changes = {
    name: input.name ?? workspace.name,
    allowSelfApproval: input.allowSelfApproval ?? workspace.allowSelfApproval,
    requireSignedUploads: input.requireSignedUploads ?? workspace.requireSignedUploads,
  };
  const audit = auditEntry(deps, ctx, {
    action: "workspace.update",
    resourceType: "workspace",
    resourceId: workspace.id,
    before: {
      name: workspace.name,
      allowSelfApproval: workspace.allowSelfApproval,
      requireSignedUploads: workspace.requireSignedUploads,
    },
    after: changes,
  });
  if ((await deps.store.updateWorkspace(workspace, changes, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The workspace was changed by someone else; read it again and retry.");
  }
  return { ...workspace, ...changes, rowVersion: workspace.rowVersion + 1 };
}
