import { AppError } from "../domain/errors";
import type { AppRecord, Context, Deps, EnvironmentRecord } from "./ports";
import { auditEntry, requirePermission } from "./support";

export interface CreateAppInput {
  key: string;
  name: string;
  platforms: string[];
  environments: string[];
}

/** Registers a host app with its environments; CONFLICT when the key is taken. */
export async function createApp(deps: Deps, ctx: Context, input: CreateAppInput) {
  requirePermission(ctx, "app:write");
  const now = deps.clock.now();
  const app: AppRecord = {
    id: deps.ids.id("app"),
    workspaceId: ctx.actor.workspaceId,
    key: input.key,
    name: input.name,
    platforms: input.platforms,
    createdAt: now,
    deletedAt: null,
  };
  const envs: EnvironmentRecord[] = [...new Set(input.environments)].map((name) => ({
    id: deps.ids.id("env"),
    appId: app.id,
    name,
    snapshotVersion: 0,
    createdAt: now,
    deletedAt: null,
  }));
  const audit = auditEntry(deps, ctx, {
    action: "app.create",
    resourceType: "app",
    resourceId: app.id,
    before: null,
    after: { ...app, environments: envs.map((e) => e.name) },
  });
  if ((await deps.store.createApp(app, envs, audit)) === "conflict") {
    throw new AppError("CONFLICT", "An app with this key already exists.");
  }
  return { ...app, environments: envs };
}
