/** One file of a package: its path inside the zip, its size in bytes and the hex sha256 of its bytes. */
export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

/** Limits applied while a package is read; anything past them is refused, not truncated. */
export interface PackageLimits {
  maxEntries: number;
  maxUncompressedBytes: number;
  maxPathLength: number;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = {
  maxEntries: 10_000,
  // A Worker isolate has 128 MB: the upload (up to MAX_PACKAGE_BYTES, 20 MiB) plus one inflated
  // entry at a time (each is hashed, then dropped) must fit beside everything else.
  maxUncompressedBytes: 64 * 1024 * 1024,
  maxPathLength: 512,
};

/**
 * Why a zip entry name is unsafe to extract, or null when it is a safe relative path.
 * Refused: empty names, absolute paths, drive letters, backslashes, `.`/`..` segments,
 * empty segments, control characters, and names longer than `maxLength`.
 */
export function unsafePathReason(name: string, maxLength: number): string | null {
  if (name.length === 0) return "empty path";
  if (name.length > maxLength) return "path too long";
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return "control character in path";
  }
  if (name.includes("\\")) return "backslash in path";
  if (name.startsWith("/")) return "absolute path";
  if (/^[A-Za-z]:/.test(name)) return "drive letter in path";
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  for (const segment of segments) {
    if (segment === "") return "empty path segment";
    if (segment === "." || segment === "..") return "relative path segment";
  }
  return null;
}

/** True for zip entries that are directories (they carry no bytes and are left out of manifests). */
export function isDirectoryEntry(name: string): boolean {
  return name.endsWith("/");
}

/** Sorts manifest files by path (byte order), so equal packages always produce equal manifests. */
export function sortManifest(files: ManifestFile[]): ManifestFile[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
