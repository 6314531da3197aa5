import { AppError } from "../domain/errors";
import type { Context, Deps } from "./ports";
import { publishMiniProgram } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";

/**
 * Deletes a version, irreversibly: refused (VERSION_IN_USE) while any release of it is canary, full
 * or paused. The version stays known (devices that have it are still recognised) but nothing can
 * release it again, and its number cannot be uploaded again. Its package bytes and manifest are
 * removed from storage unless another version still refers to the same bytes, and so are the
 * incremental patches from and to it (rows and bytes); copies a CDN cached
 * may outlive the deletion until they expire there.
 */
export async function deleteVersion(deps: Deps, ctx: Context, miniProgramId: string, versionNumber: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  const version = await deps.store.findVersion(mp.id, versionNumber);
  if (version === null || version.deletedAt !== null) throw notFound("The version");
  requirePermission(ctx, "version:delete", mp.id);
  const now = deps.clock.now();
  const audit = auditEntry(deps, ctx, {
    action: "version.delete",
    resourceType: "version",
    resourceId: version.id,
    before: { version: version.version, sha256: version.sha256, size: version.size },
    after: { deletedAt: now },
  });
  const result = await deps.store.deleteVersion(version, now, audit);
  if (result === "in_use") {
    throw new AppError(
      "VERSION_IN_USE",
      "A release of this version is canary, full or paused: end it (or let a newer full release archive it) first.",
    );
  }
  if (result === "conflict") throw notFound("The version");
  await removeBytesIfUnused(deps, version.sha256);
  // Its patches (from it and to it) go with it: rows first, then bytes no other row names.
  for (const sha256 of await deps.store.deletePatchesOf(version.id)) {
    if (!(await deps.store.patchReferenced(sha256))) await deps.packages.remove(sha256);
  }
  await publishMiniProgram(deps, mp.id, await deps.store.environmentIdsReleasing(mp.id));
  return { ...version, deletedAt: now };
}

/**
 * Removes package bytes no live version refers to any more. An upload of the same bytes may commit
 * meanwhile, relying on the stored copy: the bytes are held while they are removed and stored
 * again if a version refers to them after all.
 */
async function removeBytesIfUnused(deps: Deps, sha256: string): Promise<void> {
  if (await deps.store.packageReferenced(sha256)) return;
  const stored = await deps.packages.get(sha256);
  const manifest = await deps.packages.getManifest(sha256);
  const bytes = stored?.body ? new Uint8Array(await new Response(stored.body).arrayBuffer()) : null;
  await deps.packages.remove(sha256);
  if (bytes !== null && (await deps.store.packageReferenced(sha256))) {
    await deps.packages.putIfAbsent(sha256, bytes);
    if (manifest !== null) await deps.packages.putManifest(sha256, manifest);
  }
}
