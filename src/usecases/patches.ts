// Incremental patches (docs/patches.md): scheduled when a version goes out on a target, built by a
// Queue job each, offered by the check once ready.
import { AppError } from "../domain/errors";
import {
  applyPatch,
  createPatch,
  DEFAULT_PLAN,
  PATCH_FORMAT,
  type PatchFile,
  type PatchPlanOptions,
} from "../domain/patch";
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
 * Builds one patch (a Queue job): both packages are read from the package store and unpacked, the
 * patch is made with zstd, then decoded again and compared with the target's files before it is
 * stored (create-only, content-addressed) and recorded; the mini program's delivery is republished so
 * checks offer it. A patch not smaller than the package, or a package larger than
 * deps.patches.maxInputBytes unpacked, is recorded as skipped. Throws on anything transient (the
 * Queue retries; the dead letter marks it failed): a patch is never offered unless it was built and
 * verified whole.
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
  const [base, target] = await Promise.all([
    deps.store.getVersion(row.baseVersionId),
    deps.store.getVersion(row.targetVersionId),
  ]);
  if (base === null || target === null || base.deletedAt !== null || target.deletedAt !== null) {
    return { patchId: row.id, outcome: "gone" };
  }
  const skip = async (error: string, buildMs: number | null = null, memoryBytes: number | null = null) => {
    await deps.store.finishPatch(row.id, { status: "skipped", error, buildMs, memoryBytes }, deps.clock.now());
    return { patchId: row.id, outcome: "skipped" as const };
  };
  if (base.manifestSha256 === null || target.manifestSha256 === null) {
    return skip("A version was uploaded before manifests were kept: upload its bytes again to patch it.");
  }
  const max = deps.patches.maxInputBytes;
  const started = Date.now();
  // The reader refuses a package whose entries declare more than `max` bytes before inflating any.
  const limits = { ...deps.limits, maxUncompressedBytes: Math.min(deps.limits.maxUncompressedBytes, max) };
  const unpack = async (sha256: string) => {
    try {
      return await deps.reader.files(await packageBytes(deps, sha256), limits);
    } catch (error) {
      if (error instanceof AppError && error.code === "PAYLOAD_TOO_LARGE") return null;
      throw error;
    }
  };
  const baseFiles = await unpack(base.sha256);
  const targetFiles = baseFiles === null ? null : await unpack(target.sha256);
  if (baseFiles === null || targetFiles === null) {
    return skip(`A package unpacks to more than ${max} bytes, the most one patch job takes (PATCH_MAX_INPUT_BYTES).`);
  }
  const unpacked = (files: { bytes: Uint8Array }[]) => files.reduce((n, f) => n + f.bytes.length, 0);
  const codec = await deps.patches.codec();
  const bytes = await makeVerifiedPatch(codec, baseFiles, targetFiles);
  const buildMs = Date.now() - started;
  const memoryBytes = codec.memoryBytes() + unpacked(baseFiles) + unpacked(targetFiles) + bytes.length;
  if (bytes.length >= target.size) {
    return skip(
      `The patch (${bytes.length} bytes) is not smaller than the package (${target.size}).`,
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
  await republish(deps, row);
  return { patchId: row.id, outcome: "ready", size: bytes.length, buildMs, memoryBytes };
}

/**
 * The patch from `base` to `target` (files in manifest order), decoded again and compared with every
 * target file before it is returned: what devices get must give exactly the target's files. What the
 * Queue job runs (and `npm run bench:delta` measures).
 */
export async function makeVerifiedPatch(
  codec: PatchCodec,
  base: readonly PatchFile[],
  target: readonly PatchFile[],
  plan: PatchPlanOptions = DEFAULT_PLAN,
  onSegment?: (index: number, count: number) => void,
): Promise<Uint8Array> {
  const bytes = await createPatch(base, target, (data, dict) => codec.compress(data, dict), plan, onSegment);
  const manifest = target.map((f) => ({ path: f.path, size: f.bytes.length, sha256: "" }));
  const decoded = await applyPatch(bytes, base, manifest, (frame, dict, size) => codec.decompress(frame, dict, size));
  for (let i = 0; i < target.length; i++) {
    const want = (target[i] as PatchFile).bytes;
    const got = (decoded[i] as PatchFile).bytes;
    if (got.length !== want.length || !got.every((b, k) => b === want[k])) {
      throw new Error(`the patch does not reproduce ${target[i]?.path}`);
    }
  }
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
  if (row === null || row.status === "ready") return;
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
 * Puts a failed patch back to pending and queues its job again (version:upload). CONFLICT for any
 * other status; SERVICE_MISCONFIGURED when the deployment has no patch Queue.
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
    throw new AppError("CONFLICT", `The patch is ${row.status}: only a failed patch is built again.`);
  }
  await queue.send([{ patchId: row.id }]);
  const details = (await deps.store.listPatches(mp.id)).find((p) => p.id === row.id);
  if (details === undefined) throw notFound("The patch");
  return details;
}
