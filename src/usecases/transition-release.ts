import { AppError } from "../domain/errors";
import { type RequestableStatus, transition } from "../domain/release-status";
import type { Context, Deps } from "./ports";
import { assertSnapshotFits, rebuildSnapshot } from "./rebuild-snapshot";
import { auditEntry, notFound, requirePermission } from "./support";

const MESSAGES = {
  not_allowed: "The release cannot move to that status from its current status.",
  continue_mismatch: "A paused release continues only to the status it was paused from.",
  reason_required: "A rejection needs a reason.",
} as const;

/**
 * Moves a release through its lifecycle (PRODUCT.md). Approving and rejecting need the review
 * permission; every other move needs release:write on the mini program. Going `full` archives the
 * previous full release of the mini program on the target. A concurrent change is a CONFLICT.
 */
export async function transitionRelease(
  deps: Deps,
  ctx: Context,
  input: { releaseId: string; to: RequestableStatus; reason: string | null },
) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, input.releaseId);
  if (release === null) throw notFound("The release");
  const reviewing = release.status === "in_review" && (input.to === "approved" || input.to === "rejected");
  requirePermission(ctx, reviewing ? "release:review" : "release:write", release.miniProgramId);
  const result = transition({ status: release.status, pausedFrom: release.pausedFrom }, input.to, input.reason);
  if (!result.ok) throw new AppError("INVALID_TRANSITION", MESSAGES[result.reason]);
  const changes = {
    status: result.next.status,
    pausedFrom: result.next.pausedFrom,
    wentFull: release.wentFull || result.next.status === "full",
    reviewReason: input.to === "rejected" || input.to === "approved" ? input.reason : release.reviewReason,
    updatedAt: deps.clock.now(),
  };
  // A release entering (or staying in) delivery brings its configuration and targeting into the
  // snapshot; going full also archives the mini program's previous full release (as the store does).
  await assertSnapshotFits(deps, release.environmentId, (source) => {
    const ofThisMiniProgram = new Set(
      source.versions.filter((v) => v.miniProgramId === release.miniProgramId).map((v) => v.id),
    );
    for (const r of source.releases) {
      if (r.id === release.id) Object.assign(r, { status: changes.status, wentFull: changes.wentFull });
      else if (changes.status === "full" && r.status === "full" && ofThisMiniProgram.has(r.versionId)) {
        r.status = "archived";
      }
    }
  });
  const audit = auditEntry(deps, ctx, {
    action: "release.transition",
    resourceType: "release",
    resourceId: release.id,
    before: { status: release.status, pausedFrom: release.pausedFrom },
    after: { status: changes.status, pausedFrom: changes.pausedFrom, reason: input.reason },
  });
  if ((await deps.store.updateReleaseStatus(release, changes, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The release was changed by someone else; read it again and retry.");
  }
  await rebuildSnapshot(deps, release.environmentId);
  return { ...release, ...changes, rowVersion: release.rowVersion + 1 };
}
