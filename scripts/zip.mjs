// Usage: node scripts/zip.mjs <folder> <out.zip> — zips a folder's files with paths relative to it.
//
// The archive is deterministic: the same files give the same bytes on every run, machine and time
// zone (entries sorted by path, one fixed timestamp, fixed attributes and compression level). An
// upload of a version is keyed by its bytes' sha256, so uploading a re-packed folder again is an
// idempotent replay (200) instead of a VERSION_CONFLICT (409).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { zipSync } from "fflate";

/**
 * The zip stores DOS local date/time fields; fflate fills them from a Date's local getters, so a
 * Date built from local fields writes 1980-01-01 00:00:00 (the earliest DOS date) in any time zone.
 */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);

/** Deterministic zip of `files` (path → bytes or text). */
export function zipFiles(files) {
  const entries = {};
  for (const path of Object.keys(files).sort()) {
    const content = files[path];
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    entries[path] = [bytes, { mtime: FIXED_MTIME, level: 6, os: 0, attrs: 0 }];
  }
  return zipSync(entries);
}

/** Every file under `folder` (following symbolic links), keyed by its /-separated relative path. */
export function readFolder(folder) {
  const files = {};
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(folder, path).split("\\").join("/")] = readFileSync(path);
    }
  };
  walk(folder);
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [folder, out] = process.argv.slice(2);
  if (!folder || !out) {
    console.error("usage: node scripts/zip.mjs <folder> <out.zip>");
    process.exit(2);
  }
  const files = readFolder(folder);
  writeFileSync(out, zipFiles(files));
  console.log(`${out}: ${Object.keys(files).length} files`);
}
