import type { Context, Deps } from "./ports";
import { publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";

/**
 * Compiles and publishes the delivery state of every mini program released on one environment, from
 * the relational state, replacing what the target's head names (a mini program with no release left
 * is removed): after upgrading from a version that kept one snapshot per target, to repair delivery
 * storage (a purged KV namespace, a lost Durable Object), or after restoring D1. A restore takes the
 * environment's snapshot version back below versions the head already named, and parts are immutable
 * under their version: the version is first raised above the head's, so the rebuilt parts are new.
 * Changes nothing else in D1 but the audit log.
 */
export async function rebuildDelivery(deps: Deps, ctx: Context, appId: string, envName: string) {
  requirePermission(ctx, "app:write");
  const app = await deps.store.getApp(ctx.actor.workspaceId, appId);
  if (app === null) throw notFound("The app");
  const env = await deps.store.getEnvironment(app.id, envName);
  if (env === null) throw notFound("The environment");
  const ceiling = await deps.delivery.ceiling(app.key, env.name);
  if (env.snapshotVersion < ceiling) await deps.store.raiseSnapshotVersion(env.id, ceiling + 1);
  const stats = await publishDelivery(deps, env.id, undefined, true);
  const result = { parts: stats?.parts ?? 0, version: stats?.head.version ?? 0 };
  await deps.store.recordAudit(
    auditEntry(deps, ctx, {
      action: "environment.rebuild_delivery",
      resourceType: "environment",
      resourceId: env.id,
      before: { snapshotVersion: env.snapshotVersion, headCeiling: ceiling },
      after: result,
    }),
  );
  return result;
}
