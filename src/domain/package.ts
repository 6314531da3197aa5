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
 * Refused: empty names, names longer than `maxLength`, lone surrogates, control characters (C0,
 * DEL and C1), names that Unicode NFKC normalisation changes (fullwidth `．．／`, ligatures such as
 * `ﬁ`, decomposed accents: an extractor or file system that normalises would see another path),
 * backslashes, absolute paths, drive letters, `.`/`..` segments and empty segments.
 */
export function unsafePathReason(name: string, maxLength: number): string | null {
  if (name.length === 0) return "empty path";
  if (name.length > maxLength) return "path too long";
  // In a `u` regular expression a surrogate pair is one code point: only lone surrogates match.
  if (/\p{Cs}/u.test(name)) return "malformed Unicode in path";
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return "control character in path";
  }
  if (name.normalize("NFKC") !== name) return "path changes under Unicode NFKC normalisation";
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

/** A path as a case-insensitive file system sees it (an approximation of Unicode full case folding). */
const folded = (path: string) => path.toUpperCase().toLowerCase().normalize("NFKC");

/**
 * Why a package's entry names (each already safe by `unsafePathReason`) cannot all be extracted
 * side by side, or null when they can. Refused: the same name twice; two files whose paths differ
 * only in case (a case-insensitive file system keeps one of them, with the other's bytes); a path
 * that is a file and also a directory of another entry (in any case).
 */
export function pathConflictReason(names: readonly string[]): string | null {
  const exact = new Set<string>();
  const files = new Set<string>();
  const directories = new Set<string>();
  for (const name of names) {
    if (exact.has(name)) return "duplicate path";
    exact.add(name);
    const key = folded(isDirectoryEntry(name) ? name.slice(0, -1) : name);
    if (isDirectoryEntry(name)) directories.add(key);
    else if (files.has(key)) return "paths that differ only in case";
    else files.add(key);
    for (let slash = key.indexOf("/"); slash >= 0; slash = key.indexOf("/", slash + 1)) {
      directories.add(key.slice(0, slash));
    }
  }
  for (const file of files) if (directories.has(file)) return "a path that is both a file and a directory";
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
