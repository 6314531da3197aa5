// `@updraft/sdk/node`: storage on the file system, for Node. The only file of the SDK that imports
// Node modules (the core runs on engines without them).
import { createHash, randomBytes } from "node:crypto";
import { appendFile, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { StoredFile, UpdraftStorage } from "./adapters.ts";
import { isSafePath } from "./unpack.ts";

/** {@link UpdraftStorage} in a directory, plus where a file set's files are (to open them). */
export interface FileStorage extends UpdraftStorage {
  /** The directory holding the files of `set` (e.g. `InstalledVersion.fileSet`). */
  fileSetDir(set: string): string;
}

const NAME = /^[a-z0-9-]{1,128}$/;

function checkName(name: string, what: string): string {
  if (!NAME.test(name)) throw new Error(`invalid ${what} name`);
  return name;
}

const isMissing = (error: unknown) =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === "ENOENT";

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** Writes a file durably under a temporary name, then renames it over `path` (atomic on POSIX and NTFS). */
async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = join(dirname(path), `.tmp-${randomBytes(8).toString("hex")}`);
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dirname(path));
}

/** Makes a rename durable (POSIX); platforms that cannot open a directory skip it. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot fsync a directory; the rename is still atomic there.
  }
}

/**
 * Storage in `dir` (created when missing):
 * - `records/<sha256 of key>.json`: `{key, value}`, each replaced by write-temp-then-rename, so the
 *   installed-version record switches atomically, even across a crash;
 * - `blobs/<name>`: partial downloads, appended to;
 * - `sets/<set>/…`: the files of an installed version, written under `sets/.staging-…` and renamed
 *   into place whole. A crash can leave a `.staging-…` directory behind; it is never read, and may be
 *   deleted whenever no install runs.
 */
export function fileStorage(dir: string): FileStorage {
  const root = resolve(dir);
  const records = join(root, "records");
  const blobs = join(root, "blobs");
  const sets = join(root, "sets");
  let ready: Promise<void> | null = null;
  const init = () => {
    ready ??= (async () => {
      for (const d of [records, blobs, sets]) await mkdir(d, { recursive: true });
    })();
    return ready;
  };
  const recordPath = (key: string) => join(records, `${createHash("sha256").update(key, "utf8").digest("hex")}.json`);
  const setDir = (set: string) => join(sets, checkName(set, "file set"));
  const fileIn = (base: string, path: string) => {
    if (!isSafePath(path)) throw new Error("unsafe path");
    const full = resolve(base, ...path.split("/"));
    if (!full.startsWith(base + sep)) throw new Error("unsafe path");
    return full;
  };

  return {
    async get(key) {
      await init();
      const text = await readTextOrNull(recordPath(key));
      if (text === null) return null;
      const entry = JSON.parse(text) as { key: string; value: string };
      return entry.key === key ? entry.value : null;
    },
    async set(key, value) {
      await init();
      await writeAtomic(recordPath(key), JSON.stringify({ key, value }));
    },
    async delete(key) {
      await init();
      await rm(recordPath(key), { force: true });
    },
    async keys(prefix) {
      await init();
      const out: string[] = [];
      for (const name of await readdir(records)) {
        if (!name.endsWith(".json")) continue;
        const text = await readTextOrNull(join(records, name));
        if (text === null) continue;
        const { key } = JSON.parse(text) as { key: string };
        if (key.startsWith(prefix)) out.push(key);
      }
      return out.sort();
    },
    async readBlob(name) {
      await init();
      return readOrNull(join(blobs, checkName(name, "blob")));
    },
    async appendBlob(name, bytes) {
      await init();
      await appendFile(join(blobs, checkName(name, "blob")), bytes);
    },
    async deleteBlob(name) {
      await init();
      await rm(join(blobs, checkName(name, "blob")), { force: true });
    },
    async writeFileSet(set: string, files: readonly StoredFile[]) {
      await init();
      const final = setDir(set);
      const staging = join(sets, `.staging-${set}-${randomBytes(6).toString("hex")}`);
      // Every directory of the set is synced before the rename, so after a crash the renamed set
      // holds all its entries (a directory's entries are durable only once it is synced).
      const dirs = new Set<string>([staging]);
      try {
        for (const f of files) {
          const path = fileIn(staging, f.path);
          await mkdir(dirname(path), { recursive: true });
          for (let d = dirname(path); d.startsWith(staging) && !dirs.has(d); d = dirname(d)) dirs.add(d);
          const handle = await open(path, "wx");
          try {
            await handle.writeFile(f.bytes);
            await handle.sync();
          } finally {
            await handle.close();
          }
        }
        await mkdir(staging, { recursive: true });
        // Deepest first: a directory's own entry is in its parent.
        for (const d of [...dirs].sort((a, b) => b.length - a.length)) await syncDir(d);
        await rename(staging, final);
        await syncDir(sets);
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        throw error;
      }
    },
    async readFile(set, path) {
      await init();
      return readOrNull(fileIn(setDir(set), path));
    },
    async deleteFileSet(set) {
      await init();
      await rm(setDir(set), { recursive: true, force: true });
    },
    async listFileSets() {
      await init();
      return (await readdir(sets)).filter((name) => NAME.test(name)).sort();
    },
    fileSetDir: setDir,
  };
}
