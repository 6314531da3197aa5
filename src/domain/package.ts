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
 * DEL and C1), characters that show as nothing or change the order in which a name is shown
 * (format characters, Cf: U+202E right-to-left override, zero-width U+200B–U+200D, U+FEFF, soft
 * hyphen, tag characters), line and paragraph separators (U+2028, U+2029), private-use
 * characters, noncharacters and unassigned code points, names that Unicode NFKC normalisation
 * changes (fullwidth `．．／`, ligatures such as `ﬁ`, decomposed accents: an extractor or file
 * system that normalises would see another path), backslashes, absolute paths, drive letters,
 * `.`/`..` segments, empty segments, and segments ending in a space or a dot (Windows drops
 * those, so `index.js.` and `index.js ` would be written as `index.js`).
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
  if (/\p{Cf}/u.test(name)) return "invisible formatting character in path";
  if (/[\p{Zl}\p{Zp}]/u.test(name)) return "line or paragraph separator in path";
  if (/\p{Co}/u.test(name)) return "private-use character in path";
  if (/\p{Cn}/u.test(name)) return "unassigned character or noncharacter in path";
  if (name.normalize("NFKC") !== name) return "path changes under Unicode NFKC normalisation";
  if (name.includes("\\")) return "backslash in path";
  if (name.startsWith("/")) return "absolute path";
  if (/^[A-Za-z]:/.test(name)) return "drive letter in path";
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  for (const segment of segments) {
    if (segment === "") return "empty path segment";
    if (segment === "." || segment === "..") return "relative path segment";
  }
  if (/[ .](\/|$)/.test(name)) return "path segment ending in a space or a dot";
  return null;
}

/**
 * A path as a case-insensitive file system sees it: an approximation of Unicode full case folding
 * that is at least as coarse. Lowercasing first makes capital ẞ (U+1E9E) the ß that uppercases to
 * SS, so ß, ẞ, ss and SS are one; uppercasing then makes final ς, σ and Σ one, and dotless ı one
 * with i and I (as NTFS, which uppercases, sees them); dotted İ lowercases to i + U+0307, as full
 * case folding has it.
 */
const folded = (path: string) => path.toLowerCase().toUpperCase().toLowerCase().normalize("NFKC");

/**
 * Why a package's entry names (each already safe by `unsafePathReason`) cannot all be extracted
 * side by side, or null when they can. Refused: the same name twice; two files whose paths differ
 * only in case (a case-insensitive file system keeps one of them, with the other's bytes); a path
 * that is a file and also a directory of another entry (in any case).
 *
 * Directories are never listed one by one: the folded paths are sorted instead, so the work grows
 * with the names' total length (times the logarithm of their number, for the sort), however deep
 * they are. Adding every directory prefix of every name to a set, as this once did, is quadratic
 * in depth: seconds of CPU for 10,000 names 251 segments deep.
 */
export function pathConflictReason(names: readonly string[]): string | null {
  const exact = new Set<string>();
  const files = new Set<string>();
  const paths: string[] = [];
  for (const name of names) {
    if (exact.has(name)) return "duplicate path";
    exact.add(name);
    const directory = isDirectoryEntry(name);
    // Separators become U+0000, which no safe name holds and which sorts first: in sorted order,
    // the paths under a directory come right after the directory's own path. (Split and joined:
    // V8's replaceAll result is a rope that is slow to hash and compare.)
    const path = folded(directory ? name.slice(0, -1) : name)
      .split("/")
      .join("\0");
    if (!directory) {
      if (files.has(path)) return "paths that differ only in case";
      files.add(path);
    }
    paths.push(path);
  }
  paths.sort();
  for (let i = 0; i + 1 < paths.length; i++) {
    const path = paths[i] as string;
    const next = paths[i + 1] as string;
    // A file's path, followed by the same path (a directory entry) or by a path under it.
    if (files.has(path) && (next === path || next.startsWith(`${path}\0`))) {
      return "a path that is both a file and a directory";
    }
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
