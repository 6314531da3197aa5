import type { StoredFile, UpdraftStorage } from "./adapters.ts";

/** {@link UpdraftStorage} in memory, for tests (and apps that keep nothing between launches). */
export interface MemoryStorage extends UpdraftStorage {
  /** An independent copy of everything stored (to start several tests from one state). */
  clone(): MemoryStorage;
  /** The paths of a file set, sorted (to assert that exactly the expected files were installed). */
  files(set: string): string[];
}

interface MemoryState {
  records: Map<string, string>;
  blobs: Map<string, Uint8Array>;
  sets: Map<string, Map<string, Uint8Array>>;
}

/** A new, empty in-memory storage. Every read returns a copy, so callers cannot alter what is kept. */
export function memoryStorage(): MemoryStorage {
  return fromState({ records: new Map(), blobs: new Map(), sets: new Map() });
}

function fromState(state: MemoryState): MemoryStorage {
  const { records, blobs, sets } = state;
  return {
    async get(key) {
      return records.get(key) ?? null;
    },
    async set(key, value) {
      records.set(key, value);
    },
    async delete(key) {
      records.delete(key);
    },
    async keys(prefix) {
      return [...records.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
    async readBlob(name) {
      const blob = blobs.get(name);
      return blob === undefined ? null : blob.slice();
    },
    async appendBlob(name, bytes) {
      const old = blobs.get(name);
      if (old === undefined) {
        blobs.set(name, bytes.slice());
        return;
      }
      const next = new Uint8Array(old.length + bytes.length);
      next.set(old);
      next.set(bytes, old.length);
      blobs.set(name, next);
    },
    async deleteBlob(name) {
      blobs.delete(name);
    },
    async writeFileSet(set: string, files: readonly StoredFile[]) {
      const copy = new Map<string, Uint8Array>();
      for (const f of files) copy.set(f.path, f.bytes.slice());
      sets.set(set, copy);
    },
    async readFile(set, path) {
      return sets.get(set)?.get(path)?.slice() ?? null;
    },
    async deleteFileSet(set) {
      sets.delete(set);
    },
    async listFileSets() {
      return [...sets.keys()].sort();
    },
    files(set) {
      return [...(sets.get(set)?.keys() ?? [])].sort();
    },
    clone() {
      return fromState({
        records: new Map(records),
        blobs: new Map([...blobs].map(([k, v]) => [k, v.slice()])),
        sets: new Map([...sets].map(([k, files]) => [k, new Map([...files].map(([p, b]) => [p, b.slice()]))])),
      });
    },
  };
}
