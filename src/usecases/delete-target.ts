import { AppError } from "../domain/errors";
import type { Context, Deps } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

const IN_USE =
  "has releases that are not ended, archived or cancelled: end or cancel them first (GET /v1/admin/releases?appId=…).";

/**
 * Deletes a host app with its environments: TARGET_IN_USE while any of them has an open release.
 * The rows stay, marked deleted, so the app's key is never given to another workspace (devices in
 * the field still send it) and environment names stay taken. Audited.
 */
export async function deleteApp(deps: Deps, ctx: Context, appId: string) {
  requirePermission(ctx, "app:write");
  const app = await deps.store.getApp(ctx.actor.workspaceId, appId);
  if (app === null) throw notFound("The app");
  const now = deps.clock.now();
  const audit = auditEntry(deps, ctx, {
    action: "app.delete",
    resourceType: "app",
    resourceId: app.id,
    before: app,
    after: null,
  });
  if ((await deps.store.deleteApp(app, audit, now)) === "in_use")
    throw new AppError("TARGET_IN_USE", `This app ${IN_USE}`);
  return { ...app, deletedAt: now };
}

/** Deletes one environment of an app: TARGET_IN_USE while it has an open release. Its name stays taken. */
export async function deleteEnvironment(deps: Deps, ctx: Context, appId: string, name: string) {
  requirePermission(ctx, "app:write");
  const app = await deps.store.getApp(ctx.actor.workspaceId, appId);
  if (app === null) throw notFound("The app");
  const environment = await deps.store.getEnvironment(app.id, name);
  if (environment === null) throw notFound("The environment");
  const now = deps.clock.now();
  const audit = auditEntry(deps, ctx, {
    action: "environment.delete",
    resourceType: "environment",
    resourceId: environment.id,
    before: { ...environment, app: app.key },
    after: null,
  });
  if ((await deps.store.deleteEnvironment(environment, audit, now)) === "in_use") {
    throw new AppError("TARGET_IN_USE", `This environment ${IN_USE}`);
  }
  return { ...environment, deletedAt: now };
}
