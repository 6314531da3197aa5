import type { ManifestFile } from "./package";

/** What a publisher signs for one package (docs/publishing.md): every field on its own line. */
export interface PackageStatement {
  /** The mini program's key (what devices send). */
  miniProgram: string;
  version: string;
  /** Hex sha256 of the package bytes. */
  sha256: string;
  size: number;
  /** Hex sha256 of manifestText(files). */
  manifestSha256: string;
}

/** First line of a statement: the format, so a signature can never be read as another kind. */
export const STATEMENT_HEADER = "updraft-package-statement-v1";

/**
 * The exact text a publisher signs (UTF-8, lines ended by `\n`, no trailing spaces): the header, then
 * `mini-program`, `version`, `sha256`, `size` and `manifest-sha256` lines in that order.
 */
export function statementText(s: PackageStatement): string {
  return (
    `${STATEMENT_HEADER}\n` +
    `mini-program: ${s.miniProgram}\n` +
    `version: ${s.version}\n` +
    `sha256: ${s.sha256}\n` +
    `size: ${s.size}\n` +
    `manifest-sha256: ${s.manifestSha256}\n`
  );
}

/**
 * The canonical form of a file manifest that `manifest-sha256` hashes: one line per file, sorted by
 * path (UTF-16 code unit order), `<sha256> <size> <path>\n`. Paths never hold a newline (the zip
 * reader refuses them), so the form is unambiguous.
 */
export function manifestText(files: readonly ManifestFile[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256} ${f.size} ${f.path}\n`)
    .join("");
}

/** A publisher key id: the first 16 hex digits of the sha256 of the raw 32-byte public key. */
export const KEY_ID_LENGTH = 16;
