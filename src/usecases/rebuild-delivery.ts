import type { Context, Deps } from "./ports";
import { publishDelivery } from "./publish-delivery";
import { notFound, requirePermission } from "./support";

/**
 * Compiles and publishes the delivery state of every mini program released on one environment, from
 * the relational state: after upgrading from a version that kept one snapshot per target, or to
 * repair delivery storage (a purged KV namespace, a lost Durable Object). Changes nothing in D1.
 */
export async function rebuildDelivery(deps: Deps, ctx: Context, appId: string, envName: string) {
  requirePermission(ctx, "app:write");
  const app = await deps.store.getApp(ctx.actor.workspaceId, appId);
  if (app === null) throw notFound("The app");
  const env = await deps.store.getEnvironment(app.id, envName);
  if (env === null) throw notFound("The environment");
  const stats = await publishDelivery(deps, env.id);
  return { parts: stats?.parts ?? 0, version: stats?.head.version ?? 0 };
}
