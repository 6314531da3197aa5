import { AppError } from "../domain/errors";
import { choosePatch } from "../domain/patch-offer";
import { visibleMiniPrograms } from "../domain/permissions";
import type { SnapshotRelease } from "../domain/snapshot";
import { type CheckedMiniProgram, type CheckInput, decideAll, type RequestOrigin } from "./check-updates";
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
  const visible = visibleMiniPrograms(ctx.actor);
  if (visible !== "all") {
    // Explaining reveals a mini program's releases and targeting: only for the ones the actor may see.
    const asked = await Promise.all(
      input.miniPrograms.map((m) => deps.store.getMiniProgram(ctx.actor.workspaceId, m.id)),
    );
    // A key no mini program of the workspace has is explained like for everyone (nothing released).
    if (asked.some((mp) => mp !== null && !visible.includes(mp.id))) {
      throw new AppError("FORBIDDEN", "You may explain only the mini programs you are a member of.");
    }
  }
  const { view, decisions, previews } = await decideAll(deps, { ...input, appId: app.key }, origin, "lookup");
  return {
    snapshotVersion: view?.version ?? null,
    evaluatedAt: deps.clock.now(),
    results: decisions.map((d, i) => ({
      id: input.miniPrograms[i]?.id ?? "",
      action: d.action,
      reason: d.reason,
      ...(d.action === "none" || d.action === "removed"
        ? {}
        : {
            version: d.release.version,
            releaseId: d.release.releaseId,
            updateMode: d.updateMode,
            delivery: deliveryOf(d.release, input.miniPrograms[i], input.patchFormats ?? [], deps.patches.maxRatio),
          }),
      releases: d.trace,
      ...(previews?.[i] ? { preview: previews[i] } : {}),
    })),
  };
}

/** Whether the device would download a patch or the full package, and why (choosePatch). */
function deliveryOf(
  release: SnapshotRelease,
  m: CheckedMiniProgram | undefined,
  formats: readonly string[],
  maxRatio: number,
) {
  const offer = choosePatch(release, { version: m?.version ?? null, sha256: m?.sha256 ?? null }, formats, maxRatio);
  return {
    download: offer.choice === "PATCH" ? ("patch" as const) : ("package" as const),
    reason: offer.choice,
    packageSize: release.package.size,
    ...(offer.patch === null
      ? {}
      : {
          patch: {
            sha256: offer.patch.sha256,
            size: offer.patch.size,
            baseSha256: offer.patch.base,
            baseVersion: offer.patch.baseVersion,
            format: offer.patch.format,
          },
        }),
    availablePatches: (release.patches ?? []).map((p) => ({
      baseVersion: p.baseVersion,
      format: p.format,
      size: p.size,
    })),
  };
}
