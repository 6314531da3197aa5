import { AppError } from "../domain/errors";
import type { Context, Deps, EnvironmentRecord } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

/** Adds an environment (release target) to a host app; CONFLICT when the name exists on the app. */
export async function createEnvironment(deps: Deps, ctx: Context, appId: string, name: string) {
  requirePermission(ctx, "app:write");
  const app = await deps.store.getApp(ctx.actor.workspaceId, appId);
  if (app === null) throw notFound("The app");
  const env: EnvironmentRecord = {
    id: deps.ids.id("env"),
    appId: app.id,
    name,
    snapshotVersion: 0,
    createdAt: deps.clock.now(),
    deletedAt: null,
  };
  const audit = auditEntry(deps, ctx, {
    action: "environment.create",
    resourceType: "environment",
    resourceId: env.id,
    before: null,
    after: env,
  });
  if ((await deps.store.createEnvironment(env, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The app already has an environment with this name.");
  }
  return env;
}
