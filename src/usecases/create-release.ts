import type { ConfigPatch } from "../domain/config";
import { AppError } from "../domain/errors";
import { compareVersions } from "../domain/semver";
import { allowedUpdateMode, type UpdateMode, updateModeRefusal } from "../domain/update-mode";
import { assertPreviewFits, defaultQrCode } from "./manage-qr-codes";
import type { Context, Deps } from "./ports";
import { publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, refuseRemoved, removedError, requirePermission } from "./support";

export interface CreateReleaseInput {
  miniProgramId: string;
  version: string;
  appId: string;
  env: string;
  updateMode: UpdateMode | null;
  config: ConfigPatch;
  rollback: boolean;
  previewTestersOnly?: boolean;
}

/**
 * Creates a release of one version for one (app, environment), status `created`, with the next
 * per-target sequence. CONFLICT when the version already has a release on that target. A rollback
 * release must target a version lower than the highest version released there before.
 */
export async function createRelease(deps: Deps, ctx: Context, input: CreateReleaseInput) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, input.miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "release:create", mp.id);
  refuseRemoved(mp);
  // An asked mode the mini program cannot carry is refused; one inherited from the version is not asked.
  const refusal = input.updateMode === null ? null : updateModeRefusal(input.updateMode, mp.type, mp.origin);
  if (refusal !== null) {
    throw new AppError("UPDATE_MODE_NOT_ALLOWED", refusal, [{ pointer: "/updateMode", message: refusal }]);
  }
  const version = await deps.store.findVersion(mp.id, input.version);
  if (version === null || version.deletedAt !== null) throw notFound("The version");
  const app = await deps.store.getApp(ctx.actor.workspaceId, input.appId);
  if (app === null) throw notFound("The app");
  const env = await deps.store.getEnvironment(app.id, input.env);
  if (env === null) throw notFound("The environment");
  if (input.rollback) {
    const previous = await deps.store.listReleases(ctx.actor.workspaceId, {
      environmentId: env.id,
      miniProgramId: mp.id,
    });
    const versions = await Promise.all(
      previous.filter((r) => r.wentFull).map((r) => deps.store.getVersion(r.versionId)),
    );
    const higher = versions.some((v) => v !== null && compareVersions(v.version, version.version) > 0);
    if (!higher) {
      throw new AppError("CONFLICT", "A rollback release needs a higher version that went out on this target before.");
    }
  }
  const now = deps.clock.now();
  const release = {
    id: deps.ids.id("rel"),
    versionId: version.id,
    miniProgramId: mp.id,
    appId: app.id,
    environmentId: env.id,
    status: "created" as const,
    pausedFrom: null,
    wentFull: false,
    rollback: input.rollback,
    updateMode: allowedUpdateMode(input.updateMode ?? version.defaultUpdateMode, mp.type, mp.origin),
    config: input.config as Record<string, unknown>,
    targeting: null,
    reviewReason: null,
    submittedBy: null,
    approvedHash: null,
    previewTestersOnly: input.previewTestersOnly ?? false,
    createdBy: ctx.actor.memberId,
    createdAt: now,
    updatedAt: now,
    rowVersion: 1,
  };
  const audit = auditEntry(deps, ctx, {
    action: "release.create",
    resourceType: "release",
    resourceId: release.id,
    before: null,
    after: { ...release, version: version.version, app: app.key, env: env.name },
  });
  // Every release starts with a default test QR code (seed: "a temporary testing QR code is generated").
  const code = defaultQrCode(deps, ctx.actor.workspaceId, release);
  await assertPreviewFits(deps, mp, version, release, [code.id]);
  const created = await deps.store.createRelease(release, audit, code);
  if (created === "conflict") throw new AppError("CONFLICT", "This version already has a release on this target.");
  if (created === "environment_deleted") throw notFound("The environment");
  if (created === "removed") throw removedError();
  await publishDelivery(deps, env.id, [created.miniProgramId]);
  return { ...created, miniProgramKey: mp.key, version: version.version, appKey: app.key, env: env.name };
}
