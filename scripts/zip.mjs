// Usage: node scripts/zip.mjs <folder> <out.zip> — zips a folder's files with paths relative to it.
//
// A thin wrapper: the packer is the CLI's (packages/cli/src/pack.ts, `updraft pack`), the one packer
// of the repository. The archive is deterministic: the same files give the same bytes on every run,
// machine and time zone (entries sorted by path, one fixed timestamp, fixed attributes and
// compression level). An upload of a version is keyed by its bytes' sha256, so uploading a re-packed
// folder again is an idempotent replay (200) instead of a VERSION_CONFLICT (409). Every file is
// packed (dotfiles too); symbolic links are followed only inside the folder.
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { readFolder, zipFiles } from "../packages/cli/src/pack.ts";

export { readFolder, zipFiles };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [folder, out] = process.argv.slice(2);
  if (!folder || !out) {
    console.error("usage: node scripts/zip.mjs <folder> <out.zip>");
    process.exit(2);
  }
  let files;
  try {
    files = readFolder(folder);
  } catch (error) {
    console.error(`error: cannot pack: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
  writeFileSync(out, zipFiles(files));
  console.log(`${out}: ${Object.keys(files).length} files`);
}
