import { approvalContent } from "../domain/approval";
import type { ConfigPatch } from "../domain/config";
import { AppError } from "../domain/errors";
import { IN_USE_STATUSES, type ReleaseStatus } from "../domain/release-status";
import { type UpdateMode, updateModeRefusal } from "../domain/update-mode";
import { assertPreviewFits } from "./manage-qr-codes";
import type { Context, Deps } from "./ports";
import { publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";

/**
 * A release's configuration and update mode change before it is submitted, after a rejection, and
 * once approved until it goes out (the edit then sends it back to `created`: the approval was of
 * other content).
 */
const SETTINGS_EDITABLE: readonly ReleaseStatus[] = ["created", "rejected", "approved"];

/**
 * Edits a release's configuration patch and update mode while it is `created`, `rejected` or
 * `approved` (an approved release goes back to `created`, audited).
 * `expectedVersion` (If-Match or the body's rowVersion) must be the current row version (else
 * CONFLICT, nothing written). A live release is a 409 that says to make a new release; any other
 * status is INVALID_TRANSITION. UPDATE_MODE_NOT_ALLOWED for a mode its mini program cannot carry.
 */
export async function updateRelease(
  deps: Deps,
  ctx: Context,
  releaseId: string,
  input: { config?: ConfigPatch; updateMode?: UpdateMode; previewTestersOnly?: boolean },
  expectedVersion: number | null,
) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "release:write", release.miniProgramId);
  if (expectedVersion !== null && expectedVersion !== release.rowVersion) {
    throw new AppError("CONFLICT", "The release was changed since you read it; read it again and retry.");
  }
  if (!SETTINGS_EDITABLE.includes(release.status)) {
    throw new AppError(
      "INVALID_TRANSITION",
      IN_USE_STATUSES.includes(release.status)
        ? "A live release's configuration and update mode do not change: make a new release (only its rollout changes)."
        : `The configuration and update mode cannot change while the release is ${release.status}.`,
    );
  }
  if (input.updateMode !== undefined) {
    const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, release.miniProgramId);
    const refusal = mp === null ? null : updateModeRefusal(input.updateMode, mp.type, mp.origin);
    if (refusal !== null) {
      throw new AppError("UPDATE_MODE_NOT_ALLOWED", refusal, [{ pointer: "/updateMode", message: refusal }]);
    }
  }
  const config = (input.config ?? release.config) as Record<string, unknown>;
  const updateMode = input.updateMode ?? release.updateMode;
  // Only a change of approved content undoes an approval (the preview setting is not content).
  const reset =
    release.status === "approved" && approvalContent({ ...release, config, updateMode }) !== approvalContent(release);
  const changes = {
    config,
    updateMode,
    previewTestersOnly: input.previewTestersOnly ?? release.previewTestersOnly,
    status: reset ? ("created" as const) : release.status,
    approvedHash: reset ? null : release.approvedHash,
    updatedAt: deps.clock.now(),
  };
  // A release with test QR codes is delivered as a preview: its new configuration must fit.
  const codes = await deps.store.listQrCodes(release.id);
  if (codes.length > 0 && changes.status !== "rejected") {
    const [mp, version] = await Promise.all([
      deps.store.getMiniProgram(ctx.actor.workspaceId, release.miniProgramId),
      deps.store.getVersion(release.versionId),
    ]);
    if (mp !== null && version !== null) {
      await assertPreviewFits(
        deps,
        mp,
        version,
        { ...release, ...changes },
        codes.map((c) => c.id),
      );
    }
  }
  const audit = auditEntry(deps, ctx, {
    action: "release.update",
    resourceType: "release",
    resourceId: release.id,
    before: {
      config: release.config,
      updateMode: release.updateMode,
      previewTestersOnly: release.previewTestersOnly,
      status: release.status,
    },
    after: {
      config: changes.config,
      updateMode: changes.updateMode,
      previewTestersOnly: changes.previewTestersOnly,
      status: changes.status,
    },
  });
  if ((await deps.store.updateReleaseSettings(release, changes, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The release was changed by someone else; read it again and retry.");
  }
  // Its test QR codes preview the new content (and older links go stale): delivery lists previews.
  await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
  return { ...release, ...changes, rowVersion: release.rowVersion + 1 };
}
