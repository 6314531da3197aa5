// Incremental patches (docs/patches.md): scheduled when a version goes out on a target, built by a
// Queue job each, offered by the check once ready.
import { AppError } from "../domain/errors";
import {
  buildStream,
  checkPatch,
  createPatchFromStreams,
  DEFAULT_PLAN,
  PATCH_FORMAT,
  type PatchPlanOptions,
  planSegments,
  zstdDecompress,
} from "../domain/patch";
import { manifestText } from "../domain/publisher";
import type { PatchDetails, PatchJob, PatchRecord } from "./patch-ports";
import type { Context, Deps, PatchCodec, VersionRecord } from "./ports";
import { publishMiniProgram } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";

/**
 * Schedules the patches to a release's version from the versions last delivered on its target
 * (deps.patches.bases of them): a pending row per pair that has none, and a Queue job for every
 * pair still pending (a duplicate job is harmless: building is idempotent). Pairs already ready,
 * failed or skipped are left alone. Nothing happens without a Queue.
 */
export async function schedulePatches(
  deps: Deps,
  workspaceId: string,
  release: { environmentId: string; miniProgramId: string; versionId: string },
): Promise<PatchRecord[]> {
  const queue = deps.patches.queue;
  if (queue === null || deps.patches.bases <= 0) return [];
  const target = await deps.store.getVersion(release.versionId);
  if (target === null || target.deletedAt !== null || target.manifestSha256 === null) return [];
  const baseIds = await deps.store.patchBases(
    release.environmentId,
    release.miniProgramId,
    target.id,
    deps.patches.bases,
  );
  const bases = (await Promise.all(baseIds.map((id) => deps.store.getVersion(id)))).filter(
    (v): v is VersionRecord =>
      v !== null && v.deletedAt === null && v.manifestSha256 !== null && v.sha256 !== target.sha256,
  );
  const now = deps.clock.now();
  const rows = await deps.store.ensurePatches(
    bases.map((base) => ({
      id: deps.ids.id("pat"),
      workspaceId,
      miniProgramId: release.miniProgramId,
      baseVersionId: base.id,
      targetVersionId: target.id,
      format: PATCH_FORMAT,
      status: "pending",
      sha256: null,
      size: null,
      attempts: 0,
      error: null,
      buildMs: null,
      memoryBytes: null,
      createdAt: now,
      updatedAt: now,
    })),
  );
  const jobs: PatchJob[] = rows.filter((r) => r.status === "pending").map((r) => ({ patchId: r.id }));
  if (jobs.length > 0) await queue.send(jobs);
  return rows;
}

/** Reads a stored package whole; throws (the job is retried) when it is missing. */
async function packageBytes(deps: Deps, sha256: string): Promise<Uint8Array> {
  const stored = await deps.packages.get(sha256);
  if (stored?.body == null) throw new Error(`package ${sha256} is not in the package store`);
  return new Uint8Array(await new Response(stored.body).arrayBuffer());
}

/** What one job did, for logs and the benchmark. */
export interface PatchJobReport {
  patchId: string;
  outcome: "ready" | "already" | "skipped" | "gone" | "closed" | "off";
  size?: number;
  buildMs?: number;
  memoryBytes?: number;
}

/**
 * Builds one patch (a Queue job): each package is read from the package store, checked against its
 * version's manifest and kept as its stream; the patch is made with zstd and every segment decoded
 * again (makeVerifiedPatch) before it is stored (create-only, content-addressed) and recorded; the
 * mini program's delivery is republished so checks offer it. A package over
 * deps.patches.maxInputBytes unpacked, a patch not under deps.patches.maxRatio of the package, or a
 * deleted version is recorded as skipped. Throws on anything else (the Queue retries; the dead letter
 * marks it failed): a patch is never offered unless it was built and verified whole.
 */
export async function buildPatch(deps: Deps, job: PatchJob): Promise<PatchJobReport> {
  // PATCH_BASE_VERSIONS=0 turns building off: a job still queued is dropped (its patch stays pending).
  if (deps.patches.bases <= 0) return { patchId: job.patchId, outcome: "off" };
  const row = await deps.store.startPatchAttempt(job.patchId, deps.clock.now());
  if (row === null) return { patchId: job.patchId, outcome: "gone" };
  if (row.status === "ready") {
    await republish(deps, row);
    return { patchId: row.id, outcome: "already" };
  }
  if (row.status !== "pending") return { patchId: row.id, outcome: "closed" };
  const skip = async (error: string, buildMs: number | null = null, memoryBytes: number | null = null) => {
    await deps.store.finishPatch(row.id, { status: "skipped", error, buildMs, memoryBytes }, deps.clock.now());
    return { patchId: row.id, outcome: "skipped" as const };
  };
  const [base, target] = await Promise.all([
    deps.store.getVersion(row.baseVersionId),
    deps.store.getVersion(row.targetVersionId),
  ]);
  if (base === null || target === null || base.deletedAt !== null || target.deletedAt !== null) {
    await skip("A version was deleted.");
    return { patchId: row.id, outcome: "gone" };
  }
  if (base.manifestSha256 === null || target.manifestSha256 === null) {
    return skip("A version was uploaded before manifests were kept: upload its bytes again to patch it.");
  }
  const max = deps.patches.maxInputBytes;
  const started = Date.now();
  const baseStream = await streamOf(deps, base, max);
  const targetStream = baseStream === null ? null : await streamOf(deps, target, max);
  if (baseStream === null || targetStream === null) {
    return skip(`A package unpacks to more than ${max} bytes, the most one patch job takes (PATCH_MAX_INPUT_BYTES).`);
  }
  const codec = await deps.patches.codec();
  const bytes = await makeVerifiedPatch(codec, baseStream, targetStream);
  const buildMs = Date.now() - started;
  const memoryBytes = codec.memoryBytes() + baseStream.stream.length + targetStream.stream.length + bytes.length;
  // A patch at or over the offer's bound would never be offered: not worth storing.
  if (bytes.length >= target.size * deps.patches.maxRatio) {
    return skip(
      `The patch (${bytes.length} bytes) is not under ${deps.patches.maxRatio} of the package (${target.size} bytes), ` +
        "the most a device is offered (PATCH_MAX_RATIO).",
      buildMs,
      memoryBytes,
    );
  }
  const sha256 = await deps.hasher.sha256Hex(bytes);
  await deps.packages.putPatch(sha256, bytes);
  const outcome = { status: "ready" as const, sha256, size: bytes.length, buildMs, memoryBytes };
  if (!(await deps.store.finishPatch(row.id, outcome, deps.clock.now()))) {
    // Its version was deleted meanwhile (the row with it): the bytes go too unless another row names them.
    if ((await deps.store.getPatch(row.id)) === null && !(await deps.store.patchReferenced(sha256))) {
      await deps.packages.remove(sha256);
      return { patchId: row.id, outcome: "gone" };
    }
  }
  // Stored again (create-only: a no-op when present): another row's deletion may have removed these
  // same bytes between the first write and this row becoming ready, when this row named none yet.
  await deps.packages.putPatch(sha256, bytes);
  await republish(deps, row);
  return { patchId: row.id, outcome: "ready", size: bytes.length, buildMs, memoryBytes };
}

/** A package as a patch needs it: its stream and its files' paths and sizes (the files themselves are let go). */
export interface PackageStream {
  sizes: { path: string; size: number }[];
  stream: Uint8Array;
}

/**
 * A version's package from the package store as a stream (buildStream), after checking its files
 * against the version's manifest; null when it declares more than `max` bytes unpacked (refused by
 * the reader before anything is inflated). Throws when the bytes are missing or do not match the
 * manifest (the Queue retries, then the dead letter says why).
 */
async function streamOf(deps: Deps, version: VersionRecord, max: number): Promise<PackageStream | null> {
  const limits = { ...deps.limits, maxUncompressedBytes: Math.min(deps.limits.maxUncompressedBytes, max) };
  let contents: Awaited<ReturnType<Deps["reader"]["contents"]>>;
  try {
    contents = await deps.reader.contents(await packageBytes(deps, version.sha256), limits);
  } catch (error) {
    if (error instanceof AppError && error.code === "PAYLOAD_TOO_LARGE") return null;
    throw error;
  }
  if ((await deps.hasher.sha256Hex(manifestText(contents.manifest))) !== version.manifestSha256) {
    throw new Error(`package ${version.sha256} does not match the manifest of version ${version.version}`);
  }
  return packageStream(contents.files);
}

/** Files in manifest order as a patch needs them (the bench builds its inputs with it too). */
export function packageStream(files: readonly { path: string; bytes: Uint8Array }[]): PackageStream {
  return { sizes: files.map((f) => ({ path: f.path, size: f.bytes.length })), stream: buildStream(files) };
}

/**
 * The patch from `base` to `target`, then decoded again segment by segment, with the service's zstd
 * and with the SDK's pure-JavaScript decoder that devices use, and compared with the target stream
 * before it is returned: what devices get must give exactly the target's files. What the Queue job
 * runs (and `npm run bench:delta` measures).
 */
export async function makeVerifiedPatch(
  codec: PatchCodec,
  base: PackageStream,
  target: PackageStream,
  plan: PatchPlanOptions = DEFAULT_PLAN,
  onSegment?: (index: number, count: number) => void,
): Promise<Uint8Array> {
  const segments = planSegments(base.sizes, target.sizes, plan);
  const compress = (data: Uint8Array, dict: Uint8Array) => codec.compress(data, dict);
  const bytes = await createPatchFromStreams(base.stream, target.stream, segments, compress, onSegment);
  await checkPatch(bytes, base.stream, target.stream, [
    (frame, dict, size) => codec.decompress(frame, dict, size),
    zstdDecompress,
  ]);
  return bytes;
}

async function republish(deps: Deps, row: PatchRecord): Promise<void> {
  await publishMiniProgram(deps, row.miniProgramId, await deps.store.environmentIdsReleasing(row.miniProgramId));
}

/** A job's attempt failed: its reason is kept on the row while the Queue retries it. */
export async function notePatchFailure(deps: Deps, job: PatchJob, error: unknown): Promise<void> {
  await deps.store.notePatchError(job.patchId, describe(error), deps.clock.now());
}

/** A job ran out of retries (its dead letter): the patch is failed and devices keep full packages. */
export async function deadLetterPatch(deps: Deps, job: PatchJob, attempts: number): Promise<void> {
  const row = await deps.store.getPatch(job.patchId);
  if (row === null || row.status !== "pending") return;
  const last = row.error === null ? "" : `: ${row.error}`;
  await deps.store.failPatch(
    row.id,
    `Gave up after ${Math.max(attempts, row.attempts)} attempts${last}`,
    deps.clock.now(),
  );
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, 500);
}

/** The patches from and to versions of a mini program, newest first (mini_program:read). */
export async function listPatches(deps: Deps, ctx: Context, miniProgramId: string): Promise<PatchDetails[]> {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "mini_program:read", mp.id);
  return deps.store.listPatches(mp.id);
}

/**
 * Builds a patch again (version:upload): a failed one once its cause is fixed, a skipped one after a
 * setting changed, or a pending one whose job was lost. It goes back to pending with no attempts and
 * its job is queued. CONFLICT for a ready patch; SERVICE_MISCONFIGURED without a patch Queue.
 */
export async function retryPatch(deps: Deps, ctx: Context, miniProgramId: string, patchId: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  const row = await deps.store.getPatch(patchId);
  if (row === null || row.miniProgramId !== mp.id) throw notFound("The patch");
  requirePermission(ctx, "version:upload", mp.id);
  const queue = deps.patches.queue;
  if (queue === null) throw new AppError("SERVICE_MISCONFIGURED", "This deployment has no patch Queue bound.");
  const audit = auditEntry(deps, ctx, {
    action: "patch.retry",
    resourceType: "patch",
    resourceId: row.id,
    before: { status: row.status, attempts: row.attempts, error: row.error },
    after: { status: "pending" },
  });
  if (!(await deps.store.reopenPatch(row.id, deps.clock.now(), audit))) {
    throw new AppError("CONFLICT", "The patch is ready: it needs no build.");
  }
  await queue.send([{ patchId: row.id }]);
  const details = (await deps.store.listPatches(mp.id)).find((p) => p.id === row.id);
  if (details === undefined) throw notFound("The patch");
  return details;
}
