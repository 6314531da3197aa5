// The repository's one packer (scripts/zip.mjs re-exports it): a folder's files as a deterministic
// zip, and the package facts a publisher signs (sha256, size, manifest sha256; docs/publishing.md).
//
// Deterministic: the same files give the same bytes on every run, machine and time zone. Entries
// are sorted by path, every entry has one fixed timestamp (1980-01-01 00:00:00, the earliest DOS
// date), fixed attributes (os 0, attrs 0) and deflate level 6; nothing of the files' metadata
// (times, owners, modes) goes in. An upload is keyed by its bytes' sha256, so re-packing and
// re-uploading the same files is an idempotent replay.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { type ManifestFile, manifestText } from "@updraft/sdk/canonical";
import { type ZipOptions, type Zippable, zipSync } from "fflate";

/**
 * The zip stores DOS local date/time fields; fflate fills them from a Date's local getters, so a
 * Date built from local fields writes 1980-01-01 00:00:00 in any time zone.
 */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const ENTRY_OPTIONS: ZipOptions = { mtime: FIXED_MTIME, level: 6, os: 0, attrs: 0 };

/** A folder that cannot be packed as it is: the message says which path and why. */
export class PackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PackError";
  }
}

const utf8 = new TextEncoder();

/** Deterministic zip of `files` (path → bytes or text; `/`-separated relative paths). */
export function zipFiles(files: Readonly<Record<string, Uint8Array | string>>): Uint8Array {
  const entries: Zippable = Object.create(null);
  for (const path of Object.keys(files).sort()) {
    // fflate collects entries in a plain object, where this one name would become its prototype.
    if (path === "__proto__") throw new PackError('a file at the top named "__proto__" cannot be packed');
    const content = files[path] as Uint8Array | string;
    const bytes = typeof content === "string" ? utf8.encode(content) : content;
    entries[path] = [bytes, ENTRY_OPTIONS];
  }
  return zipSync(entries);
}

/** Why a file name cannot go into a package (Updraft refuses these paths), or null. */
function unsafeName(name: string): string | null {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f))
      return "its name holds a control character (a newline, a tab, …)";
  }
  if (name.includes("\\")) return "its name holds a backslash";
  return null;
}

/** Names that are packed like any other file but are usually there by mistake. */
const SUSPICIOUS = new Set([".git", ".DS_Store", "Thumbs.db"]);

export interface ReadFolderOptions {
  /** Told about files that are packed but probably should not be (`.git`, `.DS_Store`, `Thumbs.db`). */
  onWarning?: (message: string) => void;
}

/**
 * Every file under `folder`, keyed by its `/`-separated path relative to it. Nothing is skipped:
 * dotfiles are included. A symbolic link is followed and packed as the file or directory it points
 * to, if that is inside the folder; one pointing outside it, a broken one, a loop and anything that
 * is neither a file nor a directory (socket, FIFO, device) are refused with a PackError. Empty
 * directories leave no trace (a zip of files lists no directories).
 */
export function readFolder(folder: string, options: ReadFolderOptions = {}): Record<string, Uint8Array> {
  let root: string;
  try {
    root = realpathSync(folder);
  } catch {
    throw new PackError(`${folder}: no such directory`);
  }
  if (!statSync(root).isDirectory()) throw new PackError(`${folder} is not a directory`);
  const inside = (path: string) => path === root || path.startsWith(root + sep);
  const files: Record<string, Uint8Array> = Object.create(null);
  const walk = (dir: string, prefix: string, ancestors: ReadonlySet<string>) => {
    for (const name of readdirSync(dir).sort()) {
      const rel = prefix === "" ? name : `${prefix}/${name}`;
      const unsafe = unsafeName(name);
      if (unsafe !== null) throw new PackError(`${rel}: ${unsafe}; Updraft refuses such paths`);
      if (SUSPICIOUS.has(name)) options.onWarning?.(`${rel} is included in the package (is that intended?)`);
      let path = join(dir, name);
      let stat = lstatSync(path);
      if (stat.isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(path);
        } catch {
          throw new PackError(`${rel} is a broken symbolic link`);
        }
        if (!inside(target)) throw new PackError(`${rel} is a symbolic link to ${target}, outside ${folder}`);
        path = target;
        stat = statSync(target);
      }
      if (stat.isDirectory()) {
        const real = realpathSync(path);
        if (ancestors.has(real)) throw new PackError(`${rel} is a symbolic link loop`);
        walk(path, rel, new Set([...ancestors, real]));
      } else if (stat.isFile()) {
        files[rel] = readFileSync(path);
      } else {
        throw new PackError(`${rel} is neither a file nor a directory`);
      }
    }
  };
  walk(root, "", new Set([root]));
  return files;
}

export const sha256Hex = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/** A packed folder: the zip bytes and what a publisher signs about them. */
export interface Package {
  bytes: Uint8Array;
  /** Hex sha256 of the zip bytes. */
  sha256: string;
  size: number;
  /** The files as the manifest lists them, sorted by path. */
  files: ManifestFile[];
  /** Hex sha256 of manifestText(files): the manifest Updraft computes from the zip. */
  manifestSha256: string;
}

/** The package facts of a set of files and their zip. */
export function packFiles(files: Readonly<Record<string, Uint8Array>>): Package {
  const paths = Object.keys(files);
  if (paths.length === 0) throw new PackError("there are no files to pack (Updraft refuses an empty package)");
  const bytes = zipFiles(files);
  const manifest: ManifestFile[] = paths.map((path) => {
    const content = files[path] as Uint8Array;
    return { path, sha256: sha256Hex(content), size: content.length };
  });
  const text = manifestText(manifest);
  return {
    bytes,
    sha256: sha256Hex(bytes),
    size: bytes.length,
    files: [...manifest].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    manifestSha256: sha256Hex(text),
  };
}

/** Reads and packs a folder (see readFolder for what is packed and what is refused). */
export function packFolder(folder: string, options: ReadFolderOptions = {}): Package {
  return packFiles(readFolder(folder, options));
}
