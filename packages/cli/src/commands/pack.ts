// updraft pack: a folder as the deterministic zip Updraft stores, with the facts a publisher signs.
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { describeSystemError, localError } from "../errors.ts";
import { formatBytes, note, table } from "../output.ts";
import { type Package, packFolder } from "../pack.ts";
import type { Runtime } from "../runtime.ts";

/** Packs `dir` (warnings on stderr); PackError when it cannot be packed. */
export function packDir(rt: Runtime, dir: string): Package {
  return packFolder(rt.path(dir), { onWarning: (message) => note(rt.io, `warning: ${message}`) });
}

export function writeZip(file: string, bytes: Uint8Array): void {
  try {
    writeFileSync(file, bytes);
  } catch (error) {
    throw localError(`cannot write ${file}: ${describeSystemError(error)}`);
  }
}

/** The package facts as printed by pack and publish. */
export function packageRows(pkg: Package): string[][] {
  return [
    ["sha256", pkg.sha256],
    ["size", `${pkg.size} (${formatBytes(pkg.size)})`],
    ["files", String(pkg.files.length)],
    ["manifest sha256", pkg.manifestSha256],
  ];
}

export const packageJson = (pkg: Package) => ({
  sha256: pkg.sha256,
  size: pkg.size,
  fileCount: pkg.files.length,
  manifestSha256: pkg.manifestSha256,
});

export function registerPack(program: Command, rt: Runtime): void {
  program
    .command("pack")
    .summary("pack a folder as a deterministic zip")
    .description(
      "pack a folder as a deterministic zip (every file, dotfiles included; links only inside the folder) and print " +
        "its sha256, size, file count and manifest sha256",
    )
    .argument("<dir>", "the folder to pack (its build output)")
    .option("--out <file>", "write the zip to this file")
    .option("--list", "also list the files (the manifest: sha256, size, path)")
    .action((dir: string, opts: { out?: string; list?: boolean }, cmd: Command) => {
      const pkg = packDir(rt, dir);
      const out = opts.out === undefined ? null : rt.path(opts.out);
      if (out !== null) writeZip(out, pkg.bytes);
      const json = { dir: rt.path(dir), out, ...packageJson(pkg), ...(opts.list ? { files: pkg.files } : {}) };
      rt.emit(cmd, json, () => [
        out === null ? `Packed ${rt.path(dir)} (not written: pass --out <file> to keep the zip)` : `Wrote ${out}`,
        ...table(packageRows(pkg)),
        ...(opts.list ? pkg.files.map((f) => `${f.sha256} ${String(f.size).padStart(9)} ${f.path}`) : []),
      ]);
    });
}
