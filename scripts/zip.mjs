// Usage: node scripts/zip.mjs <folder> <out.zip> — zips a folder's files with paths relative to it.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { zipSync } from "fflate";

const [folder, out] = process.argv.slice(2);
if (!folder || !out) {
  console.error("usage: node scripts/zip.mjs <folder> <out.zip>");
  process.exit(2);
}
const files = {};
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else files[relative(folder, path).split("\\").join("/")] = readFileSync(path);
  }
};
walk(folder);
writeFileSync(out, zipSync(files));
console.log(`${out}: ${Object.keys(files).length} files`);
