// Downloads with a hard size cap, resumable across interruptions, verified by sha256.
import type { HttpResponse, Sha256, UpdraftStorage } from "./adapters.ts";
import type { PackageRef } from "./answer.ts";
import { concatBytes, toHex, utf8Decode } from "./bytes.ts";
import { type ManifestFile, parseManifest } from "./canonical.ts";
import { UpdraftError } from "./errors.ts";
import { discard, type RetryContext, readBody, sendWithRetry } from "./retry.ts";

/** What a download needs: the retrying HTTP context, storage for partial bytes, and sha256. */
export interface DownloadContext extends RetryContext {
  storage: UpdraftStorage;
  sha256: Sha256;
}

/** Partial bytes are written to storage in pieces of at most this size. */
const FLUSH_BYTES = 256 * 1024;

/** Name of the blob holding a package's partial bytes: content-addressed, so any result may resume it. */
export const partialBlobName = (sha256: string) => `partial-${sha256}`;

/** The error for an unexpected status, with the problem's `code` when the body has one. */
export async function httpError(res: HttpResponse, what: string): Promise<UpdraftError> {
  let problemCode: string | undefined;
  try {
    const body = utf8Decode(await readBody(res, 64 * 1024, "The error"));
    const code = body === null ? undefined : (JSON.parse(body) as { code?: unknown }).code;
    if (typeof code === "string") problemCode = code;
  } catch {
    // The body is only a hint.
  }
  return new UpdraftError("HTTP_ERROR", `${what}: the service answered ${res.status}.`, {
    status: res.status,
    ...(problemCode === undefined ? {} : { problemCode }),
  });
}

/**
 * The package's bytes, exactly `pkg.size` of them with sha256 `pkg.sha256`.
 *
 * - Bytes are appended to a storage blob as they arrive; after an interruption (a network error, or a
 *   body ending early) the next try asks `Range: bytes=N-` and accepts only a `206` whose
 *   `Content-Range` is `bytes N-(size-1)/size`; a `200` (or a `416`, or another range) restarts from 0.
 *   The blob survives across calls (and launches), so a later `install` resumes too.
 * - As soon as more bytes than `pkg.size` arrive (or a `Content-Length` announces them) the transfer
 *   stops: `SIZE_EXCEEDED`, and the partial bytes are dropped.
 * - A sha256 other than the signed one is `HASH_MISMATCH` (bytes dropped). When the bytes were
 *   assembled from an earlier session's partial, the download is first retried once from 0.
 */
export async function downloadPackage(ctx: DownloadContext, pkg: PackageRef): Promise<Uint8Array> {
  const name = partialBlobName(pkg.sha256);
  for (let pass = 0; ; pass++) {
    const { data, resumed } = await fetchToBlob(ctx, pkg, name);
    if (toHex(await ctx.sha256(data)) === pkg.sha256) return data;
    await ctx.storage.deleteBlob(name);
    // Bytes assembled from an earlier partial may have been corrupted there: once more from scratch.
    if (!resumed || pass > 0) throw new UpdraftError("HASH_MISMATCH", `The package's sha256 is not ${pkg.sha256}.`);
  }
}

async function fetchToBlob(
  ctx: DownloadContext,
  pkg: PackageRef,
  name: string,
): Promise<{ data: Uint8Array; resumed: boolean }> {
  const size = pkg.size;
  let have = (await ctx.storage.readBlob(name))?.length ?? 0;
  let resumed = have > 0;
  if (have > size) {
    await ctx.storage.deleteBlob(name);
    have = 0;
    resumed = false;
  }
  if (have < size) {
    let asked = 0;
    await sendWithRetry(
      ctx,
      () => {
        asked = have;
        const headers: Record<string, string> = asked > 0 ? { range: `bytes=${asked}-` } : {};
        return { method: "GET", url: pkg.url, headers };
      },
      async (res) => {
        if (asked > 0 && res.status === 206) {
          if (res.header("content-range")?.trim() !== `bytes ${asked}-${size - 1}/${size}`) {
            return restart(res, "the resumed range is not the one asked for");
          }
        } else if (res.status === 200) {
          if (asked > 0) {
            await ctx.storage.deleteBlob(name);
            have = 0;
          }
        } else if (res.status === 416 || res.status === 206) {
          return restart(res, "the range was refused");
        } else {
          throw await httpError(res, "Downloading the package");
        }
        if (have > 0) resumed = true;
        const declared = res.header("content-length");
        if (declared !== null && /^\d+$/.test(declared) && have + Number(declared) > size) {
          await discard(res).catch(() => undefined);
          await ctx.storage.deleteBlob(name);
          throw new UpdraftError("SIZE_EXCEEDED", `The package announces more than its signed ${size} bytes.`);
        }
        try {
          await stream(
            ctx,
            res,
            name,
            size,
            () => have,
            (n) => {
              have = n;
            },
          );
        } catch (error) {
          // Broken after the last byte arrived: the bytes are complete, nothing to ask again.
          if (error instanceof UpdraftError || have < size) throw error;
        }
        if (have < size)
          throw new UpdraftError("DOWNLOAD_INCOMPLETE", `The package ended at ${have} of ${size} bytes.`);
      },
    );
  }
  const data = (await ctx.storage.readBlob(name)) ?? new Uint8Array(0);
  if (data.length !== size) {
    await ctx.storage.deleteBlob(name);
    throw new UpdraftError("DOWNLOAD_INCOMPLETE", "The stored package bytes were lost.");
  }
  return { data, resumed };

  async function restart(res: HttpResponse, why: string): Promise<never> {
    await discard(res).catch(() => undefined);
    await ctx.storage.deleteBlob(name);
    have = 0;
    throw new UpdraftError("DOWNLOAD_INCOMPLETE", `Restarting the download: ${why}.`);
  }
}

/** Appends the body to the blob, refusing (and dropping the blob) past `size` bytes in all. */
async function stream(
  ctx: DownloadContext,
  res: HttpResponse,
  name: string,
  size: number,
  getHave: () => number,
  setHave: (n: number) => void,
): Promise<void> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let stored = getHave();
  const flush = async () => {
    if (pendingBytes === 0) return;
    const chunk = concatBytes(pending);
    pending = [];
    pendingBytes = 0;
    await ctx.storage.appendBlob(name, chunk);
    stored += chunk.length;
    setHave(stored);
  };
  let exceeded = false;
  try {
    for await (const chunk of res.body) {
      if (stored + pendingBytes + chunk.length > size) {
        exceeded = true;
        throw new UpdraftError("SIZE_EXCEEDED", `The package is longer than its signed ${size} bytes.`);
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
  } finally {
    // Keep what arrived for resuming; never keep anything of a body that broke the cap.
    if (exceeded) await ctx.storage.deleteBlob(name);
    else await flush();
  }
}

/** Longest manifest text accepted (its size is not signed, only its sha256): 16 MiB. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * The manifest of a package: downloaded from `manifestUrl`, its sha256 equal to `manifestSha256`,
 * its text canonical (parseManifest). `MANIFEST_MISMATCH` otherwise.
 */
export async function downloadManifest(
  ctx: DownloadContext,
  manifestUrl: string,
  manifestSha256: string,
): Promise<ManifestFile[]> {
  const bytes = await sendWithRetry(
    ctx,
    () => ({ method: "GET", url: manifestUrl, headers: {} }),
    async (res) => {
      if (res.status !== 200) throw await httpError(res, "Downloading the manifest");
      return readBody(res, MAX_MANIFEST_BYTES, "The manifest");
    },
  );
  if (toHex(await ctx.sha256(bytes)) !== manifestSha256) {
    throw new UpdraftError("HASH_MISMATCH", `The manifest's sha256 is not ${manifestSha256}.`);
  }
  const text = utf8Decode(bytes);
  const files = text === null ? null : parseManifest(text);
  if (files === null) throw new UpdraftError("MANIFEST_MISMATCH", "The manifest is not a canonical manifest text.");
  return files;
}
