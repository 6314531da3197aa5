import { approvalContent, legacyApprovalContent } from "../domain/approval";
import { AppError } from "../domain/errors";
import {
  type FullCandidate,
  LIVE_STATUSES,
  type ReleaseStatus,
  type RequestableStatus,
  supersession,
  transition,
} from "../domain/release-status";
import { rangeCovers } from "../domain/semver";
import { schedulePatches } from "./patches";
import type { Context, Deps, ReleaseRecord } from "./ports";
import { assertDeliveryFits, publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, refuseRemoved, requirePermission } from "./support";

/** Where a removed mini program's releases may still go. */
const CLOSING: readonly ReleaseStatus[] = ["paused", "ended", "cancelled"];

const MESSAGES = {
  not_allowed: "The release cannot move to that status from its current status.",
  continue_mismatch: "A paused release continues only to the status it was paused from.",
  reason_required: "A rejection needs a reason.",
} as const;

/**
 * Moves a release through its lifecycle (docs/overview.md, "Release lifecycle"). Approving and
 * rejecting need the review permission; every other move needs release:write on the mini program.
 * Going `full` archives the mini program's older full releases on the target that it supersedes,
 * and is refused while a newer one is full there (see `supersession`). A concurrent change is a
 * CONFLICT.
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
  if (input.to === "approved" && reviewing && release.submittedBy === ctx.actor.memberId) {
    const workspace = await deps.store.getWorkspace(ctx.actor.workspaceId);
    if (!workspace?.allowSelfApproval) {
      throw new AppError(
        "FORBIDDEN",
        "You submitted this release: another reviewer or admin must approve it (or the workspace must allow self-approval).",
      );
    }
  }
  const result = transition({ status: release.status, pausedFrom: release.pausedFrom }, input.to, input.reason);
  if (!result.ok) throw new AppError("INVALID_TRANSITION", MESSAGES[result.reason]);
  // A removed mini program's releases only ever close (a release created while the removal was
  // being approved is caught here).
  if (!CLOSING.includes(result.next.status)) {
    const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, release.miniProgramId);
    if (mp !== null) refuseRemoved(mp);
  }
  // The approval is bound to what was approved: going out checks that nothing hashed changed since
  // (edits of an approved release send it back to created; this catches anything else). A release
  // approved before approvals were bound has no hash and goes out as before.
  const contentHash = await deps.hasher.sha256Hex(approvalContent(release));
  const goingOut = release.status === "approved" && LIVE_STATUSES.includes(result.next.status);
  // Hashes taken before a rollout-only targeting counted as none are accepted as they were.
  const legacyHash = goingOut ? await deps.hasher.sha256Hex(legacyApprovalContent(release)) : null;
  if (
    goingOut &&
    release.approvedHash !== null &&
    release.approvedHash !== contentHash &&
    release.approvedHash !== legacyHash
  ) {
    throw new AppError("CONFLICT", "The release changed since it was approved: submit it again.");
  }
  if (
    LIVE_STATUSES.includes(result.next.status) &&
    (await deps.store.getVersion(release.versionId))?.deletedAt != null
  ) {
    throw new AppError("CONFLICT", "The release's version was deleted: it cannot go out.");
  }
  const archive = result.next.status === "full" ? await supersededBy(deps, ctx, release) : [];
  const changes = {
    status: result.next.status,
    pausedFrom: result.next.pausedFrom,
    wentFull: release.wentFull || result.next.status === "full",
    // A rejection's reason stays on the release (through rework and a later approval without one).
    reviewReason:
      input.to === "rejected" || (input.to === "approved" && input.reason !== null)
        ? input.reason
        : release.reviewReason,
    submittedBy: result.next.status === "in_review" ? ctx.actor.memberId : release.submittedBy,
    approvedHash: approvedHashAfter(result.next.status, release.approvedHash, contentHash),
    updatedAt: deps.clock.now(),
  };
  // A release entering (or staying in) delivery brings its configuration and targeting into the
  // snapshot; going full also archives the releases it supersedes.
  const measured = await assertDeliveryFits(deps, release.environmentId, release.miniProgramId, (source) => {
    for (const r of source.releases) {
      if (r.id === release.id) Object.assign(r, { status: changes.status, wentFull: changes.wentFull });
      else if (archive.includes(r.id)) r.status = "archived";
    }
  });
  const audit = auditEntry(deps, ctx, {
    action: "release.transition",
    resourceType: "release",
    resourceId: release.id,
    before: { status: release.status, pausedFrom: release.pausedFrom },
    after: { status: changes.status, pausedFrom: changes.pausedFrom, reason: input.reason },
  });
  // Only a move into delivery can grow the snapshot: it commits only on the environment state it was
  // measured on. Every other move (pause, end, review steps) only takes a release out of the snapshot
  // or leaves it alone, so it needs no environment compare-and-swap and racing changes of other
  // releases never make it conflict.
  const condition = LIVE_STATUSES.includes(changes.status) ? measured : null;
  if ((await deps.store.updateReleaseStatus(release, changes, audit, archive, condition)) === "conflict") {
    throw new AppError(
      "CONFLICT",
      "The release, or the delivery of its environment, was changed by someone else; read it again and retry.",
    );
  }
  await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
  // A gated canary (again a canary, or continued) is watched by its monitor again (docs/statistics.md).
  if (changes.status === "canary" && release.healthPolicy) {
    await deps.stats.monitors.arm(release.id, ctx.actor.workspaceId, true).catch(() => undefined);
  }
  // Going out: patches to it from the versions last delivered here are built in the background. The
  // move is done whatever becomes of them (devices get the full package until a patch is ready).
  if (LIVE_STATUSES.includes(changes.status)) {
    await schedulePatches(deps, ctx.actor.workspaceId, release).catch((error) => {
      console.warn(`patches for release ${release.id} were not scheduled: ${String(error)}`);
    });
  }
  return { ...release, ...changes, rowVersion: release.rowVersion + 1 };
}

/** The approval hash a release keeps in `status`: set on approval, kept while it goes out, dropped otherwise. */
function approvedHashAfter(status: ReleaseStatus, current: string | null, content: string): string | null {
  if (status === "approved") return content;
  return ["canary", "full", "paused", "ended", "archived"].includes(status) ? current : null;
}

/** The full releases `release` archives by going full, or INVALID_TRANSITION when a newer one is full. */
async function supersededBy(deps: Deps, ctx: Context, release: ReleaseRecord): Promise<string[]> {
  const full = await deps.store.listReleases(ctx.actor.workspaceId, {
    environmentId: release.environmentId,
    miniProgramId: release.miniProgramId,
    status: "full",
  });
  const candidate = async (r: ReleaseRecord): Promise<FullCandidate> => {
    const version = await deps.store.getVersion(r.versionId);
    if (version === null) throw notFound("The release's version");
    return { id: r.id, seq: r.seq, version: version.version, compat: version.compat };
  };
  const others = await Promise.all(full.filter((r) => r.id !== release.id).map(candidate));
  const outcome = supersession(await candidate(release), others, rangeCovers);
  if (outcome.refused) {
    throw new AppError(
      "INVALID_TRANSITION",
      `A newer release of this mini program (version ${outcome.by.version}) is in full release on this ` +
        "target; to deliver an older version, create a rollback release.",
    );
  }
  return outcome.archive;
}
