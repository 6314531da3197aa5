// Unpacking a verified package and checking every file against its manifest. The zip's central
// directory is read here (names always as UTF-8, as the service reads them); only DEFLATE itself is
// an adapter (Inflate). Nothing is inflated beyond the size the signed manifest gives the file.
import type { Inflate, Sha256, StoredFile } from "./adapters.ts";
import { bytesEqual, toHex, utf8Decode } from "./bytes.ts";
import type { ManifestFile } from "./canonical.ts";
import { UpdraftError } from "./errors.ts";

/** One entry of a zip archive, its data still compressed. */
export interface ZipEntry {
  name: string;
  method: number;
  size: number;
  data: Uint8Array;
}

const invalid = (what: string) => new UpdraftError("PACKAGE_INVALID", `The package is not a readable zip: ${what}.`);

const u16 = (b: Uint8Array, at: number) => (b[at] as number) | ((b[at + 1] as number) << 8);
const u32 = (b: Uint8Array, at: number) => (u16(b, at) | (u16(b, at + 2) << 16)) >>> 0;

/**
 * The entries of a zip archive from its central directory, each checked against its local header
 * (same name), with its compressed bytes. Encrypted, multi-disk and zip64 archives are refused, as the
 * service refuses them at upload (`PACKAGE_INVALID`).
 */
export function readZip(zip: Uint8Array): ZipEntry[] {
  let eocd = -1;
  for (let at = zip.length - 22; at >= 0 && at >= zip.length - 22 - 0xffff; at--) {
    if (u32(zip, at) === 0x06054b50) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw invalid("no end of central directory");
  const count = u16(zip, eocd + 10);
  const cdSize = u32(zip, eocd + 12);
  const cdOffset = u32(zip, eocd + 16);
  if (u16(zip, eocd + 4) !== 0 || u16(zip, eocd + 6) !== 0 || u16(zip, eocd + 8) !== count) {
    throw invalid("multi-disk archive");
  }
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) throw invalid("zip64 archive");
  if (cdOffset + cdSize > eocd) throw invalid("central directory out of bounds");
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > eocd || u32(zip, at) !== 0x02014b50) throw invalid(`central record ${i}`);
    const flags = u16(zip, at + 8);
    const method = u16(zip, at + 10);
    const compressedSize = u32(zip, at + 20);
    const size = u32(zip, at + 24);
    const nameLength = u16(zip, at + 28);
    const next = at + 46 + nameLength + u16(zip, at + 30) + u16(zip, at + 32);
    const local = u32(zip, at + 42);
    if (next > eocd) throw invalid(`central record ${i}`);
    if (flags & 0x41) throw invalid(`entry ${i} is encrypted`);
    const nameBytes = zip.subarray(at + 46, at + 46 + nameLength);
    const name = utf8Decode(nameBytes);
    if (name === null) throw invalid(`entry ${i}'s name is not UTF-8`);
    if (local + 30 > zip.length || u32(zip, local) !== 0x04034b50) throw invalid(`local header ${i}`);
    const localNameLength = u16(zip, local + 26);
    const dataStart = local + 30 + localNameLength + u16(zip, local + 28);
    if (!bytesEqual(zip.subarray(local + 30, local + 30 + localNameLength), nameBytes)) {
      throw invalid(`entry ${i}'s local name differs`);
    }
    if (dataStart + compressedSize > zip.length) throw invalid(`entry ${i}'s data out of bounds`);
    entries.push({ name, method, size, data: zip.subarray(dataStart, dataStart + compressedSize) });
    at = next;
  }
  return entries;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/**
 * Whether `path` is safe to write under a directory on any platform: relative, `/`-separated, no
 * empty, `.` or `..` segment, no backslash, drive letter or control character, at most 512 characters.
 */
export function isSafePath(path: string): boolean {
  if (path === "" || path.length > 512 || path.startsWith("/") || path.includes("\\") || hasControl(path)) {
    return false;
  }
  if (/^[A-Za-z]:/.test(path)) return false;
  return path.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

const mismatch = (what: string) =>
  new UpdraftError("MANIFEST_MISMATCH", `The package's files differ from its manifest: ${what}.`);

/**
 * Unpacks a package and returns its files, exactly the manifest's: every file the manifest lists,
 * with its size and sha256, and nothing else (`MANIFEST_MISMATCH`). Directory entries (empty, names
 * ending in `/`) are left out, as the manifest leaves them out. A file's declared size is compared
 * before it is inflated, so no entry can expand past what the manifest allows.
 */
export async function unpackVerified(
  zip: Uint8Array,
  manifest: readonly ManifestFile[],
  inflate: Inflate,
  sha256: Sha256,
): Promise<StoredFile[]> {
  const expected = new Map(manifest.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const files: StoredFile[] = [];
  for (const [i, entry] of readZip(zip).entries()) {
    if (entry.name.endsWith("/")) {
      if (entry.size !== 0 || entry.data.length !== 0) throw invalid(`directory entry ${i} carries data`);
      continue;
    }
    if (!isSafePath(entry.name)) throw invalid(`entry ${i} has an unsafe path`);
    const file = expected.get(entry.name);
    if (file === undefined) throw mismatch(`entry ${i} is not in the manifest`);
    if (seen.has(entry.name)) throw mismatch(`entry ${i} repeats a path`);
    seen.add(entry.name);
    if (entry.size !== file.size) throw mismatch(`entry ${i} declares another size`);
    let bytes: Uint8Array;
    if (entry.method === 0) {
      bytes = entry.data;
    } else if (entry.method === 8) {
      try {
        bytes = await inflate(entry.data, file.size);
      } catch (error) {
        throw new UpdraftError("PACKAGE_INVALID", `Entry ${i} does not inflate.`, { cause: error });
      }
    } else {
      throw invalid(`entry ${i} uses compression method ${entry.method}`);
    }
    if (bytes.length !== file.size) throw mismatch(`entry ${i} is not the manifest's size`);
    if (toHex(await sha256(bytes)) !== file.sha256) throw mismatch(`entry ${i}'s sha256 is not the manifest's`);
    files.push({ path: entry.name, bytes: bytes.slice() });
  }
  for (const f of manifest) if (!seen.has(f.path)) throw mismatch("a file of the manifest is missing");
  return files;
}

/**
 * Checks files made by a patch against the manifest: exactly its paths, each of its size and sha256
 * (MANIFEST_MISMATCH otherwise).
 */
export async function verifyFiles(
  files: readonly StoredFile[],
  manifest: readonly ManifestFile[],
  sha256: Sha256,
): Promise<void> {
  if (files.length !== manifest.length) throw mismatch("the patched files are not the manifest's");
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as StoredFile;
    const want = manifest[i] as ManifestFile;
    if (file.path !== want.path || file.bytes.length !== want.size)
      throw mismatch(`${want.path} is not the manifest's`);
    if (toHex(await sha256(file.bytes)) !== want.sha256) throw mismatch(`${want.path}'s sha256 is not the manifest's`);
  }
}
