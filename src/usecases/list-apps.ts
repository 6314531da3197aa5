import type { Context, Deps } from "./ports";
import { notFound, requirePermission } from "./support";

/** Every host app of the workspace with its environments. */
export async function listApps(deps: Deps, ctx: Context) {
  requirePermission(ctx, "workspace:read");
  const apps = await deps.store.listApps(ctx.actor.workspaceId);
  return Promise.all(apps.map(async (app) => ({ ...app, environments: await deps.store.listEnvironments(app.id) })));
}

/** One host app (by id or key) with its environments. */
export async function getApp(deps: Deps, ctx: Context, appId: string) {
  requirePermission(ctx, "workspace:read");
  const app = await deps.store.getApp(ctx.actor.workspaceId, appId);
  if (app === null) throw notFound("The app");
  return { ...app, environments: await deps.store.listEnvironments(app.id) };
}
