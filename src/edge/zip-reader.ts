import { type Unzipped, unzipSync } from "fflate";
import { AppError } from "../domain/errors";
import { isDirectoryEntry, type ManifestFile, sortManifest, unsafePathReason } from "../domain/package";
import type { PackageReader } from "../usecases/ports";
import { webCryptoHasher } from "./crypto";

const EOCD_SIGNATURE = 0x06054b50;

function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 22) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  const stop = Math.max(0, bytes.length - 22 - 0xffff);
  for (let i = bytes.length - 22; i >= stop; i--) if (view.getUint32(i, true) === EOCD_SIGNATURE) return true;
  return false;
}

/**
 * Reads a zip with fflate and returns its file manifest. Every entry name is checked before any
 * byte is inflated, and the declared sizes are bounded first, so a zip bomb is refused cheaply.
 */
export const fflateReader: PackageReader = {
  async manifest(bytes, limits) {
    if (!looksLikeZip(bytes)) throw new AppError("INVALID_PACKAGE", "The package is not a zip archive.");
    let entries = 0;
    let declared = 0;
    let unsafe: string | null = null;
    const seen = new Set<string>();
    let files: Unzipped;
    try {
      files = unzipSync(bytes, {
        filter(file) {
          entries += 1;
          declared += file.originalSize;
          unsafe ??= unsafePathReason(file.name, limits.maxPathLength);
          if (unsafe === null && seen.has(file.name)) unsafe = "duplicate path";
          seen.add(file.name);
          return unsafe === null && entries <= limits.maxEntries && declared <= limits.maxUncompressedBytes;
        },
      });
    } catch {
      throw new AppError("INVALID_PACKAGE", "The package is not a readable zip archive.");
    }
    if (unsafe !== null) throw new AppError("INVALID_PACKAGE", `The package has an unsafe entry: ${unsafe}.`);
    if (entries > limits.maxEntries) throw new AppError("INVALID_PACKAGE", "The package has too many entries.");
    if (declared > limits.maxUncompressedBytes) {
      throw new AppError("PAYLOAD_TOO_LARGE", "The package expands past the uncompressed size limit.");
    }
    const manifest: ManifestFile[] = [];
    for (const [path, data] of Object.entries(files)) {
      if (isDirectoryEntry(path)) continue;
      manifest.push({ path, size: data.length, sha256: await webCryptoHasher.sha256Hex(data) });
    }
    if (manifest.length === 0) throw new AppError("INVALID_PACKAGE", "The package contains no files.");
    return sortManifest(manifest);
  },
};
