import { AppError } from "../domain/errors";
import type { ReleaseStatus } from "../domain/release-status";
import type { Context, Deps } from "./ports";
import { publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, refuseRemoved, requirePermission } from "./support";

/** Statuses a release can be deleted in: never delivered, or over. */
export const DELETABLE_STATUSES: readonly ReleaseStatus[] = ["created", "rejected", "cancelled", "ended"];

/**
 * Deletes a release that is created, rejected, cancelled or ended (else RELEASE_NOT_DELETABLE). An
 * ended release that went out fully as `sync` is kept: it is a sync milestone devices skipping its
 * version must still pass through. Audited with the release as it was.
 */
export async function deleteRelease(deps: Deps, ctx: Context, releaseId: string) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "release:write", release.miniProgramId);
  // A removed mini program's releases are what keeps telling devices on that target to delete it.
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, release.miniProgramId);
  if (mp !== null) refuseRemoved(mp);
  if (!DELETABLE_STATUSES.includes(release.status)) {
    throw new AppError(
      "RELEASE_NOT_DELETABLE",
      `A ${release.status} release cannot be deleted: only created, rejected, cancelled and ended ones can (end it first).`,
    );
  }
  if (release.wentFull && release.updateMode === "sync") {
    throw new AppError(
      "RELEASE_NOT_DELETABLE",
      "This release went out fully as sync: devices that skip its version must still update synchronously, so it stays.",
    );
  }
  const audit = auditEntry(deps, ctx, {
    action: "release.delete",
    resourceType: "release",
    resourceId: release.id,
    before: release,
    after: null,
  });
  if ((await deps.store.deleteRelease(release, audit, DELETABLE_STATUSES)) === "conflict") {
    throw new AppError("CONFLICT", "The release was changed meanwhile; read it again and retry.");
  }
  await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
  return release;
}
