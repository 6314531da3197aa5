import { AppError } from "../domain/errors";
import type { ManifestFile } from "../domain/package";
import { manifestText } from "../domain/publisher";
import { allowedUpdateMode, type UpdateMode } from "../domain/update-mode";
import { verifyUploadSignature } from "./manage-publisher-keys";
import type { Context, Deps, VersionRecord } from "./ports";
import { publishMiniProgram } from "./publish-delivery";
import { auditEntry, notFound, refuseRemoved, requirePermission } from "./support";

export interface UploadVersionInput {
  miniProgramId: string;
  version: string;
  compat: string;
  updateMode: UpdateMode | null;
  releaseNote: string;
  publisherSignature: string | null;
  publisherKeyId: string | null;
  /** Reads the package bytes; called only once the mini program and the permission are checked. */
  readBody: () => Promise<Uint8Array>;
}

export type UploadResult = { version: VersionRecord; created: boolean };

/**
 * Stores a version's package: reads the zip into its manifest, writes the bytes and the manifest to
 * the package store (create-only, content-addressed) and only then the version row with its audit
 * row. Identical bytes under an existing version number are an idempotent replay (created: false);
 * different bytes are VERSION_CONFLICT.
 */
export async function uploadVersion(deps: Deps, ctx: Context, input: UploadVersionInput): Promise<UploadResult> {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, input.miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "version:upload", mp.id);
  refuseRemoved(mp);
  const bytes = await input.readBody();
  const sha256 = await deps.hasher.sha256Hex(bytes);
  const replay = (existing: VersionRecord): UploadResult => {
    if (existing.sha256 !== sha256) {
      throw new AppError("VERSION_CONFLICT", "This version number already exists with different package bytes.");
    }
    return { version: existing, created: false };
  };
  // Snapshots list the known versions: where the mini program is released, devices that have a
  // version installed must be recognised at once (else UNKNOWN_VERSION). Also on a replay, which
  // may retry an upload whose rebuild failed after its row was written.
  const publish = async () => publishMiniProgram(deps, mp.id, await deps.store.environmentIdsReleasing(mp.id));
  const existing = await deps.store.findVersion(mp.id, input.version);
  if (existing?.deletedAt != null) {
    throw new AppError("VERSION_CONFLICT", "This version number was deleted and cannot be used again.");
  }
  if (existing !== null) {
    const replayed = replay(existing);
    // A version uploaded before manifests were kept gets its manifest from the same bytes, so
    // devices (which verify every file against it) can install it.
    if (existing.manifestSha256 === null) {
      const manifestSha256 = await storeManifestText(deps, await deps.reader.manifest(bytes, deps.limits));
      await deps.store.setVersionManifest(existing, manifestSha256);
      replayed.version = { ...existing, manifestSha256 };
    }
    await publish();
    return replayed;
  }

  const files = await deps.reader.manifest(bytes, deps.limits);
  // Before anything is stored: a refused signature leaves no bytes behind.
  const publisherKeyId = await verifyUploadSignature(
    deps,
    ctx,
    mp,
    { version: input.version, sha256, size: bytes.length, files },
    { signature: input.publisherSignature, keyId: input.publisherKeyId },
  );
  const stored = await deps.packages.putIfAbsent(sha256, bytes);
  await deps.packages.putManifest(sha256, files);
  const manifestSha256 = await storeManifestText(deps, files);
  const restore = async () => {
    await deps.packages.putIfAbsent(sha256, bytes);
    await deps.packages.putManifest(sha256, files);
  };
  // Bytes this upload stored must not outlive it when no version ends up with them (a lost race, a
  // failed write): they would stay downloadable with nothing referring to them. Another upload of
  // the same bytes may rely on them meanwhile (it found them stored): if a version refers to them
  // once they are removed, they are stored again; that upload also checks after its own commit.
  const discard = async () => {
    if (!stored || (await deps.store.packageInUse(sha256))) return;
    await deps.packages.remove(sha256);
    if (await deps.store.packageInUse(sha256)) await restore();
  };

  const record: VersionRecord = {
    id: deps.ids.id("ver"),
    miniProgramId: mp.id,
    version: input.version,
    sha256,
    size: bytes.length,
    fileCount: files.length,
    manifestSha256,
    compat: input.compat,
    defaultUpdateMode: allowedUpdateMode(input.updateMode ?? mp.defaultUpdateMode, mp.type, mp.origin),
    releaseNote: input.releaseNote,
    publisherSignature: input.publisherSignature,
    publisherKeyId,
    uploadedBy: ctx.actor.memberId,
    createdAt: deps.clock.now(),
    deletedAt: null,
  };
  const audit = auditEntry(deps, ctx, {
    action: "version.upload",
    resourceType: "version",
    resourceId: record.id,
    before: null,
    after: record,
  });
  let written: Awaited<ReturnType<typeof deps.store.createVersion>>;
  try {
    written = await deps.store.createVersion(record, audit);
  } catch (error) {
    await discard();
    throw error;
  }
  if (written === "conflict") {
    // A concurrent upload of the same version number won the race: compare with what it stored.
    const winner = await deps.store.findVersion(mp.id, input.version);
    if (winner === null || winner.sha256 !== sha256) await discard();
    if (winner === null) throw new AppError("CONFLICT", "The version could not be stored; retry.");
    return replay(winner);
  }
  // Bytes another upload stored may have been removed by it after it lost a race (see discard).
  if (!stored && (await deps.packages.head(sha256)) === null) await restore();
  await publish();
  return { version: record, created: true };
}

/**
 * Stores the canonical manifest text of `files`, content-addressed like a package (devices fetch it
 * to verify every unpacked file, docs/publishing.md), and returns its sha256. Shared by every version
 * with the same files; never removed (it holds only paths, sizes and hashes).
 */
async function storeManifestText(deps: Deps, files: ManifestFile[]): Promise<string> {
  const manifest = manifestText(files);
  const manifestSha256 = await deps.hasher.sha256Hex(manifest);
  await deps.packages.putText(manifestSha256, manifest);
  return manifestSha256;
}

export async function listVersions(deps: Deps, ctx: Context, miniProgramId: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "mini_program:read", mp.id);
  return deps.store.listVersions(mp.id);
}

/** A version with its file manifest. */
export async function getVersion(deps: Deps, ctx: Context, miniProgramId: string, version: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "mini_program:read", mp.id);
  const record = await deps.store.findVersion(mp.id, version);
  if (record === null) throw notFound("The version");
  return { ...record, files: (await deps.packages.getManifest(record.sha256)) ?? [] };
}
