import { Inflate } from "fflate";
import { AppError } from "../domain/errors";
import {
  isDirectoryEntry,
  type ManifestFile,
  type PackageLimits,
  pathConflictReason,
  sortManifest,
  unsafePathReason,
} from "../domain/package";
import type { PackageReader } from "../usecases/ports";
import { webCryptoHasher } from "./crypto";

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const DESCRIPTOR_SIGNATURE = 0x08074b50;
const EOCD_SIZE = 22;
/** The fixed part of a central directory header: no entry takes fewer bytes. */
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8 = 0x0800;
const FLAG_MASKED_HEADERS = 0x2000;
/** The only flags an entry may carry: deflate options (bits 1–2), data descriptor, UTF-8 name. */
const ALLOWED_FLAGS = 0x0002 | 0x0004 | FLAG_DESCRIPTOR | FLAG_UTF8;

const ZIP64_EXTRA_FIELD = 0x0001;
/** Info-ZIP's Unicode Path field: extractors that honour it use its name instead of the header's. */
const UNICODE_PATH_EXTRA_FIELD = 0x7075;

/** What extractors that follow the zip specification read bytes 0x80–0xFF of an unflagged name as. */
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

const CP437 = Array.from({ length: 256 }, (_, byte) =>
  byte < 0x80 ? String.fromCharCode(byte) : (CP437_HIGH[byte - 0x80] as string),
);

/** One central directory entry, read and bounds-checked before any byte is inflated. */
interface Entry {
  /** 1-based position in the central directory, used in refusals (names are never echoed). */
  number: number;
  name: string;
  /** The name as extractors that read unflagged names as code page 437 see it (else `name`). */
  legacyName: string;
  rawName: Uint8Array;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  /** Where this entry's stored bytes start and end, once its local header has been checked. */
  dataStart: number;
  dataEnd: number;
}

const invalid = (why: string) => new AppError("INVALID_PACKAGE", `The package is not a readable zip archive: ${why}.`);
const notZip = () => new AppError("INVALID_PACKAGE", "The package is not a zip archive.");
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Bytes {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length() {
    return this.bytes.length;
  }
  u16(at: number) {
    return this.view.getUint16(at, true);
  }
  u32(at: number) {
    return this.view.getUint32(at, true);
  }
  /** True when a zip record signature (`PK\x05\x06`, `PK\x06\x06`, `PK\x06\x07`) occurs in [from, to). */
  hasEndSignature(from: number, to: number) {
    for (let i = from; i + 4 <= to; i++) {
      const value = this.u32(i);
      if (value === EOCD_SIGNATURE || value === ZIP64_EOCD_SIGNATURE || value === ZIP64_LOCATOR_SIGNATURE) return true;
    }
    return false;
  }
}

/**
 * Checks that an extra field area is a well-formed sequence of (id, length, data) fields exactly
 * filling it, without a field that would change the entry's name or sizes for some extractor: no
 * zip64 field, and a Unicode Path field only when it names exactly the header's name (as Info-ZIP
 * writes it).
 */
function checkExtraFields(zip: Bytes, from: number, to: number, rawName: Uint8Array, where: string) {
  let at = from;
  while (at < to) {
    if (at + 4 > to || at + 4 + zip.u16(at + 2) > to) throw invalid(`${where} has a malformed extra field`);
    const id = zip.u16(at);
    const data = zip.bytes.subarray(at + 4, at + 4 + zip.u16(at + 2));
    if (id === ZIP64_EXTRA_FIELD) throw invalid(`${where} has zip64 sizes (zip64 is not accepted)`);
    if (id === UNICODE_PATH_EXTRA_FIELD) {
      const same =
        data.length >= 5 && data[0] === 1 && zip.u32(at + 5) === crc32(rawName) && sameBytes(data.subarray(5), rawName);
      if (!same) throw invalid(`${where} has a Unicode path field that names another path`);
    }
    at += 4 + data.length;
  }
}

/**
 * The end-of-central-directory record, which must be the archive's last 22 bytes: no archive
 * comment (so no second end record can hide in one), no trailing bytes, one disk, no zip64.
 */
function endRecord(zip: Bytes, maxEntries: number) {
  if (zip.length < EOCD_SIZE) throw notZip();
  // Found from the end like every reader does, only to tell a comment or trailing bytes apart from
  // a file that is not a zip at all.
  let eocd = -1;
  for (let i = zip.length - EOCD_SIZE; i >= Math.max(0, zip.length - EOCD_SIZE - 0xffff); i--) {
    if (zip.u32(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw notZip();
  // An earlier end record whose comment runs exactly to the end of the archive is one that readers
  // checking the comment length would take, while readers taking the last signature take this one.
  for (let i = eocd - 1; i >= Math.max(0, zip.length - EOCD_SIZE - 0xffff); i--) {
    if (zip.u32(i) === EOCD_SIGNATURE && i + EOCD_SIZE + zip.u16(i + 20) === zip.length) {
      throw invalid("the archive has more than one end record (one in the comment of another)");
    }
  }
  const commentLength = zip.u16(eocd + 20);
  if (commentLength > 0) throw invalid("the archive has a comment (archive comments are not accepted)");
  if (eocd + EOCD_SIZE !== zip.length) throw invalid("bytes follow the end of central directory record");
  if (eocd >= 20 && zip.u32(eocd - 20) === ZIP64_LOCATOR_SIGNATURE) {
    throw invalid("it is a zip64 archive (zip64 is not accepted; packages are far below its limits)");
  }
  const count = zip.u16(eocd + 10);
  if (count > maxEntries) throw new AppError("INVALID_PACKAGE", "The package has too many entries.");
  const size = zip.u32(eocd + 12);
  const offset = zip.u32(eocd + 16);
  if (size === 0xffffffff || offset === 0xffffffff) {
    throw invalid("it is a zip64 archive (zip64 is not accepted; packages are far below its limits)");
  }
  if (zip.u16(eocd + 4) !== 0 || zip.u16(eocd + 6) !== 0 || zip.u16(eocd + 8) !== count) {
    throw invalid("it spans several disks");
  }
  if (offset > eocd || count * CENTRAL_HEADER_SIZE > eocd - offset) {
    throw invalid("the central directory does not fit in the archive");
  }
  if (offset + size !== eocd) {
    throw invalid("the central directory is not immediately followed by the end of central directory record");
  }
  return { count, offset, eocd };
}

/**
 * Reads a zip's central directory by hand, strictly, and returns its entries. Everything a
 * malicious archive could lie about is checked against the bytes actually present: the entry count
 * (a 100-byte zip may claim 4 billion entries), every header's position and length, the flags
 * (no encryption), the names (UTF-8 only) and zip64 markers (refused). The entries must exactly
 * fill the central directory, which must end where the end record starts.
 */
function centralDirectory(zip: Bytes, maxEntries: number): { entries: Entry[]; offset: number } {
  const { count, offset, eocd } = endRecord(zip, maxEntries);
  const entries: Entry[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    const number = i + 1;
    const where = `central directory entry ${number}`;
    if (at + CENTRAL_HEADER_SIZE > eocd || zip.u32(at) !== CENTRAL_SIGNATURE) throw invalid("bad entry header");
    const flags = zip.u16(at + 8);
    const nameLength = zip.u16(at + 28);
    const extraStart = at + CENTRAL_HEADER_SIZE + nameLength;
    const extraEnd = extraStart + zip.u16(at + 30);
    const next = extraEnd + zip.u16(at + 32);
    if (next > eocd) throw invalid("an entry header runs past the central directory");
    // Only the variable parts (name, extra field, comment) are searched: fixed fields such as a
    // CRC-32 may hold any four bytes.
    if (zip.hasEndSignature(at + CENTRAL_HEADER_SIZE, next)) throw invalid("the archive has more than one end record");
    checkFlags(flags, where);
    const compressedSize = zip.u32(at + 20);
    const size = zip.u32(at + 24);
    const localOffset = zip.u32(at + 42);
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
      throw invalid(`${where} has zip64 sizes (zip64 is not accepted)`);
    }
    if (zip.u16(at + 34) !== 0) throw invalid(`${where} starts on another disk`);
    const rawName = zip.bytes.subarray(at + CENTRAL_HEADER_SIZE, extraStart);
    checkExtraFields(zip, extraStart, extraEnd, rawName, where);
    const name = decodeName(rawName, where);
    checkFileType(zip.u32(at + 38), name, where);
    entries.push({
      number,
      name,
      // An ASCII name reads the same in both (the usual unflagged name: most archivers set the flag only when needed).
      legacyName: flags & FLAG_UTF8 || rawName.every((byte) => byte < 0x80) ? name : cp437(rawName),
      rawName,
      flags,
      method: zip.u16(at + 10),
      crc: zip.u32(at + 16),
      compressedSize,
      size,
      localOffset,
      dataStart: 0,
      dataEnd: 0,
    });
    at = next;
  }
  if (at !== eocd) throw invalid("the central directory holds bytes that no entry accounts for");
  return { entries, offset };
}

function checkFlags(flags: number, where: string) {
  if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS)) {
    throw invalid(`${where} is encrypted (encrypted entries are not accepted)`);
  }
  if (flags & ~ALLOWED_FLAGS) throw invalid(`${where} uses an unsupported general-purpose flag`);
}

/**
 * Names are UTF-8, decoded strictly, whether or not the entry carries the UTF-8 flag: archivers
 * such as Info-ZIP's `zip` write UTF-8 names without it, and Java, Go and Info-ZIP's `unzip` on
 * UTF-8 systems read them as UTF-8. Bytes that are not UTF-8 are refused, never read as another
 * character set.
 */
function decodeName(raw: Uint8Array, where: string): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw invalid(`${where} has a name that is not valid UTF-8`);
  }
}

/** An unflagged name as extractors that follow the specification read it (code page 437). */
function cp437(raw: Uint8Array): string {
  // Joined once: adding a character at a time builds a string V8 is slow to flatten and compare.
  return Array.from(raw, (byte) => CP437[byte] as string).join("");
}

/**
 * Entries must be regular files or directories: an extractor that honours Unix modes would turn a
 * symbolic link's bytes into a link target (and later entries could be written through it).
 */
function checkFileType(external: number, name: string, where: string) {
  // The high 16 bits hold a Unix mode (when the archiver set one), the low byte MS-DOS attributes.
  const type = (external >>> 16) & 0xf000;
  if (type !== 0 && type !== 0x8000 && type !== 0x4000) {
    throw invalid(`${where} is a symbolic link or special file (only files and directories are accepted)`);
  }
  if ((type === 0x4000 || external & 0x10) && !isDirectoryEntry(name)) {
    throw invalid(`${where} is marked as a directory but its name does not end in /`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Checks that the local entries are exactly the ones the central directory lists, so an extractor
 * that walks local headers from the start (Java's ZipInputStream, streaming unzippers) sees what
 * the manifest lists: taken in offset order, the entries must tile the bytes before the central
 * directory with no gap, overlap or trailing byte — each one local header, name, extra field, data
 * and (when flagged) a data descriptor — and every local header must agree with its central record
 * on flags, method, name, CRC-32 and sizes (CRC-32 and sizes may be zero when a descriptor follows,
 * which must then agree too). A stored entry may not use a data descriptor: a sequential reader
 * cannot tell where its data ends (ZipInputStream refuses it; others search for a signature).
 */
function checkLayout(zip: Bytes, entries: Entry[], centralOffset: number) {
  let cursor = 0;
  for (const entry of [...entries].sort((a, b) => a.localOffset - b.localOffset)) {
    const where = `entry ${entry.number}`;
    if (entry.localOffset !== cursor) {
      throw invalid(
        entry.localOffset > cursor
          ? "the archive holds bytes before or between its entries that no entry accounts for"
          : "two entries overlap",
      );
    }
    const at = cursor;
    if (at + LOCAL_HEADER_SIZE > centralOffset || zip.u32(at) !== LOCAL_SIGNATURE) {
      throw invalid(`${where}'s local header is missing`);
    }
    const nameLength = zip.u16(at + 26);
    const extraStart = at + LOCAL_HEADER_SIZE + nameLength;
    const extraEnd = extraStart + zip.u16(at + 28);
    if (extraEnd > centralOffset) throw invalid(`${where}'s local header runs into the central directory`);
    const disagree = (field: string) =>
      invalid(`${where}'s local header disagrees with the central directory (${field})`);
    if (zip.u16(at + 6) !== entry.flags) throw disagree("flags");
    if (zip.u16(at + 8) !== entry.method) throw disagree("compression method");
    if (!sameBytes(zip.bytes.subarray(at + LOCAL_HEADER_SIZE, extraStart), entry.rawName)) throw disagree("name");
    const described = (entry.flags & FLAG_DESCRIPTOR) !== 0;
    const agrees = (value: number, central: number) => value === central || (described && value === 0);
    if (!agrees(zip.u32(at + 14), entry.crc)) throw disagree("CRC-32");
    if (!agrees(zip.u32(at + 18), entry.compressedSize)) throw disagree("compressed size");
    if (!agrees(zip.u32(at + 22), entry.size)) throw disagree("size");
    checkExtraFields(zip, extraStart, extraEnd, entry.rawName, `${where}'s local header`);
    if (zip.hasEndSignature(at + LOCAL_HEADER_SIZE, extraEnd)) {
      throw invalid("the archive has more than one end record");
    }
    entry.dataStart = extraEnd;
    entry.dataEnd = extraEnd + entry.compressedSize;
    if (entry.dataEnd > centralOffset) throw invalid(`${where}'s data runs into the central directory`);
    cursor = entry.dataEnd;
    if (described) {
      if (entry.method !== 8) throw invalid(`${where} is stored with a data descriptor (not accepted)`);
      cursor = descriptorEnd(zip, entry, centralOffset, where);
    }
  }
  if (cursor !== centralOffset) {
    throw invalid("the archive holds bytes between its last entry and the central directory");
  }
}

/**
 * Where an entry's data descriptor ends. Its signature is optional; like ZipInputStream, four bytes
 * equal to it are read as the signature. Its CRC-32 and sizes must be the central directory's.
 */
function descriptorEnd(zip: Bytes, entry: Entry, centralOffset: number, where: string): number {
  let at = entry.dataEnd;
  if (at + 4 <= centralOffset && zip.u32(at) === DESCRIPTOR_SIGNATURE) at += 4;
  if (at + 12 > centralOffset) throw invalid(`${where}'s data descriptor is missing`);
  if (zip.u32(at) !== entry.crc || zip.u32(at + 4) !== entry.compressedSize || zip.u32(at + 8) !== entry.size) {
    throw invalid(`${where}'s data descriptor disagrees with the central directory`);
  }
  return at + 12;
}

/** Compressed bytes fed to the inflater at a time: at most about 1 MiB of output per step (1032:1). */
const INFLATE_STEP = 1024;

/**
 * What fflate 0.8's streaming inflater keeps between pushes (`fflate` is pinned to an exact
 * version; a test fails if this changes): `s.f` is set and `s.l` cleared once the final deflate
 * block has ended, `s.p` is the bit position in `p`, the input not yet consumed.
 */
interface InflaterState {
  s: { f?: number; l?: unknown; p?: number };
  p: Uint8Array;
}

/** Input bytes left after the end of the deflate stream, or -1 when the stream has not ended. */
function bytesAfterStream(inflater: Inflate): number {
  const { s, p } = inflater as unknown as Partial<InflaterState>;
  if (typeof s !== "object" || s === null || !(p instanceof Uint8Array)) {
    throw new Error("fflate's Inflate internals changed: the zip reader cannot tell where a deflate stream ends");
  }
  if (s.f !== 1 || s.l) return -1;
  return p.length - ((s.p ?? 0) & 7 ? 1 : 0);
}

/**
 * Inflates a deflate stream that must produce exactly `size` bytes and end exactly at the end of
 * `stored` (a sequential extractor finds an entry's end by inflating: bytes after the stream would
 * be read as the next header). It is fed in small steps and stopped as soon as it produces more, so
 * an entry that lies about its size costs at most about a step's worth of work past it.
 */
function inflateExactly(stored: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let written = 0;
  let overflow = false;
  const inflater = new Inflate((chunk) => {
    if (written + chunk.length > size) overflow = true;
    else {
      out.set(chunk, written);
      written += chunk.length;
    }
  });
  try {
    let i = 0;
    do {
      inflater.push(stored.subarray(i, i + INFLATE_STEP), i + INFLATE_STEP >= stored.length);
      i += INFLATE_STEP;
    } while (i < stored.length && !overflow);
  } catch {
    throw invalid("an entry does not inflate");
  }
  if (overflow || written !== size) throw invalid("an entry inflates to other than its declared size");
  const after = bytesAfterStream(inflater);
  if (after < 0) throw invalid("an entry's deflate stream is incomplete");
  if (after > 0) throw invalid("an entry's deflate stream ends before its compressed size");
  return out;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (ISO-HDLC, as zip uses it) of `data`. */
export function crc32(data: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < data.length; i++) c = (CRC_TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * Reads a zip and returns its file manifest. The archive's structure is checked first — the end
 * record, the central directory (entry count, flags, names, declared sizes) and the layout of the
 * local entries, which must be exactly the central directory's — so a lying, bomb or two-faced
 * archive is refused before anything is inflated; then each entry is inflated into exactly its
 * declared size and must match its declared CRC-32, so a corrupt or truncated entry is refused
 * instead of being stored with a wrong hash.
 */
async function extract(
  bytes: Uint8Array,
  limits: PackageLimits,
  keep: boolean,
): Promise<{ manifest: ManifestFile[]; files: { path: string; bytes: Uint8Array }[] }> {
  const zip = new Bytes(bytes);
  const { entries, offset } = centralDirectory(zip, limits.maxEntries);
  let declared = 0;
  for (const entry of entries) {
    const unsafe = unsafePathReason(entry.name, limits.maxPathLength);
    if (unsafe !== null) {
      throw new AppError("INVALID_PACKAGE", `The package has an unsafe entry: entry ${entry.number}: ${unsafe}.`);
    }
    if (entry.method !== 0 && entry.method !== 8) throw invalid("an entry uses an unsupported compression method");
    if (isDirectoryEntry(entry.name) && entry.size !== 0) throw invalid("a directory entry carries data");
    declared += entry.size;
  }
  const conflict = pathConflictReason(entries.map((entry) => entry.name));
  if (conflict !== null) throw new AppError("INVALID_PACKAGE", `The package has an unsafe entry: ${conflict}.`);
  // Extractors that read unflagged names as code page 437 see other names: they must not collide either.
  if (entries.some((entry) => entry.legacyName !== entry.name)) {
    const legacy = pathConflictReason(entries.map((entry) => entry.legacyName));
    if (legacy !== null) {
      throw new AppError(
        "INVALID_PACKAGE",
        `The package has an unsafe entry: ${legacy} (as extractors that read names without the UTF-8 flag as code page 437 see them).`,
      );
    }
  }
  if (declared > limits.maxUncompressedBytes) {
    throw new AppError("PAYLOAD_TOO_LARGE", "The package expands past the uncompressed size limit.");
  }
  checkLayout(zip, entries, offset);
  const manifest: ManifestFile[] = [];
  const files: { path: string; bytes: Uint8Array }[] = [];
  for (const entry of entries) {
    const stored = bytes.subarray(entry.dataStart, entry.dataEnd);
    const data = entry.method === 0 ? stored : inflateExactly(stored, entry.size);
    if (data.length !== entry.size) throw invalid("an entry inflates to other than its declared size");
    if (crc32(data) !== entry.crc) throw invalid("an entry fails its CRC-32 check");
    if (isDirectoryEntry(entry.name)) continue;
    manifest.push({ path: entry.name, size: data.length, sha256: await webCryptoHasher.sha256Hex(data) });
    if (keep) files.push({ path: entry.name, bytes: data });
  }
  if (manifest.length === 0) throw new AppError("INVALID_PACKAGE", "The package contains no files.");
  // Manifest order: by path, in UTF-16 code units (sortManifest).
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { manifest: sortManifest(manifest), files };
}

export const fflateReader: PackageReader = {
  manifest: async (bytes, limits) => (await extract(bytes, limits, false)).manifest,
  contents: (bytes, limits) => extract(bytes, limits, true),
};
