import { type CheckInput, decideAll, type RequestOrigin } from "./check-updates";
import type { Context, Deps } from "./ports";
import { notFound, requirePermission } from "./support";

/**
 * "Why did this device get (or not get) that version?": runs the same decision as /v1/check for the
 * given device profile, without admitting it to any time window, and returns per mini program the
 * outcome and the trace of every release considered (which step decided, which rule failed).
 */
export async function explainDevice(deps: Deps, ctx: Context, input: CheckInput, origin: RequestOrigin) {
  requirePermission(ctx, "workspace:read");
  const app = await deps.store.getApp(ctx.actor.workspaceId, input.appId);
  if (app === null) throw notFound("The app");
  const { view, decisions } = await decideAll(deps, { ...input, appId: app.key }, origin, "lookup");
  return {
    snapshotVersion: view?.version ?? null,
    evaluatedAt: deps.clock.now(),
    results: decisions.map((d, i) => ({
      id: input.miniPrograms[i]?.id ?? "",
      action: d.action,
      reason: d.reason,
      ...(d.action === "none"
        ? {}
        : { version: d.release.version, releaseId: d.release.releaseId, updateMode: d.updateMode }),
      releases: d.trace,
    })),
  };
}
