import { Inflate } from "fflate";
import { AppError } from "../domain/errors";
import { isDirectoryEntry, type ManifestFile, sortManifest, unsafePathReason } from "../domain/package";
import type { PackageReader } from "../usecases/ports";
import { webCryptoHasher } from "./crypto";

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
/** The fixed part of a central directory header: no entry takes fewer bytes. */
const CENTRAL_HEADER_SIZE = 46;

/** One central directory entry, read and bounds-checked before any byte is inflated. */
interface Entry {
  name: string;
  rawName: Uint8Array;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const invalid = (why: string) => new AppError("INVALID_PACKAGE", `The package is not a readable zip archive: ${why}.`);

/**
 * Reads a zip's central directory by hand, strictly, and returns its entries. Everything a
 * malicious archive could lie about is checked against the bytes actually present: the entry count
 * (a 100-byte zip may claim 4 billion entries), every header's position and length, and zip64
 * fields. Names are decoded as fflate decodes them (UTF-8 when flagged, else Latin-1).
 */
function centralDirectory(bytes: Uint8Array, maxEntries: number): Entry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => {
    const high = u32(at + 4);
    if (high !== 0) throw invalid("a zip64 field is out of range");
    return u32(at);
  };
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (u32(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new AppError("INVALID_PACKAGE", "The package is not a zip archive.");
  let count = u16(eocd + 10);
  let offset = u32(eocd + 16);
  if (eocd >= 20 && u32(eocd - 20) === ZIP64_LOCATOR_SIGNATURE) {
    const record = u64(eocd - 12);
    if (record + 56 > bytes.length || u32(record) !== ZIP64_EOCD_SIGNATURE) throw invalid("bad zip64 record");
    count = u64(record + 32);
    offset = u64(record + 48);
  }
  if (count > maxEntries) throw new AppError("INVALID_PACKAGE", "The package has too many entries.");
  if (offset > bytes.length || count * CENTRAL_HEADER_SIZE > bytes.length - offset) {
    throw invalid("the central directory does not fit in the archive");
  }
  const entries: Entry[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER_SIZE > bytes.length || u32(at) !== CENTRAL_SIGNATURE) throw invalid("bad entry header");
    const flags = u16(at + 8);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const next = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + u16(at + 32);
    if (next > bytes.length) throw invalid("an entry header runs past the end");
    const rawName = bytes.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength);
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    let localOffset = u32(at + 42);
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
      // The zip64 extended information field (id 1) holds, in order, only the fields that overflowed.
      const extraEnd = at + CENTRAL_HEADER_SIZE + nameLength + extraLength;
      let field = at + CENTRAL_HEADER_SIZE + nameLength;
      while (field + 4 <= extraEnd && u16(field) !== 1) field += 4 + u16(field + 2);
      if (field + 4 > extraEnd) throw invalid("a zip64 entry lacks its sizes");
      let value = field + 4;
      const take = () => {
        if (value + 8 > Math.min(extraEnd, field + 4 + u16(field + 2))) throw invalid("a zip64 entry lacks its sizes");
        const v = u64(value);
        value += 8;
        return v;
      };
      if (size === 0xffffffff) size = take();
      if (compressedSize === 0xffffffff) compressedSize = take();
      if (localOffset === 0xffffffff) localOffset = take();
    }
    entries.push({
      name: flags & 0x800 ? new TextDecoder().decode(rawName) : latin1(rawName),
      rawName,
      method: u16(at + 10),
      crc: u32(at + 16),
      compressedSize,
      size,
      localOffset,
    });
    at = next;
  }
  return entries;
}

function latin1(raw: Uint8Array): string {
  let out = "";
  for (let i = 0; i < raw.length; i += 4096) out += String.fromCharCode(...raw.subarray(i, i + 4096));
  return out;
}

/**
 * The bytes of one entry as stored, bounds-checked against its local header, which must name the
 * same path and compression method as the central directory (an extractor that streams local
 * headers must see what the manifest lists).
 */
function storedBytes(bytes: Uint8Array, entry: Entry): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL_SIGNATURE) throw invalid("bad local header");
  const nameLength = view.getUint16(at + 26, true);
  const start = at + 30 + nameLength + view.getUint16(at + 28, true);
  if (start + entry.compressedSize > bytes.length) throw invalid("an entry's data runs past the end");
  const localName = bytes.subarray(at + 30, at + 30 + nameLength);
  if (view.getUint16(at + 8, true) !== entry.method || !sameBytes(localName, entry.rawName)) {
    throw invalid("a local header disagrees with the central directory");
  }
  return bytes.subarray(start, start + entry.compressedSize);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compressed bytes fed to the inflater at a time: at most about 1 MiB of output per step (1032:1). */
const INFLATE_STEP = 1024;

/**
 * Inflates a deflate stream that must produce exactly `size` bytes. It is fed in small steps and
 * stopped as soon as it produces more, so an entry that lies about its size costs at most about a
 * step's worth of work past it (an inflater writing into a fixed buffer would silently drop the
 * excess and keep going: up to 1,032 bytes of work per byte uploaded).
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
    for (let i = 0; i < stored.length && !overflow; i += INFLATE_STEP) {
      inflater.push(stored.subarray(i, i + INFLATE_STEP), i + INFLATE_STEP >= stored.length);
    }
  } catch {
    throw invalid("an entry does not inflate");
  }
  if (overflow || written !== size) throw invalid("an entry inflates to other than its declared size");
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
 * Reads a zip and returns its file manifest. The central directory is read and checked first (entry
 * count, names, declared sizes), so a lying or bomb archive is refused before anything is inflated;
 * then each entry is inflated into exactly its declared size and must match its declared CRC-32 and
 * size, so a corrupt or truncated entry is refused instead of being stored with a wrong hash.
 */
export const fflateReader: PackageReader = {
  async manifest(bytes, limits) {
    if (bytes.length < 22) throw new AppError("INVALID_PACKAGE", "The package is not a zip archive.");
    const entries = centralDirectory(bytes, limits.maxEntries);
    const seen = new Set<string>();
    let declared = 0;
    for (const entry of entries) {
      const unsafe =
        unsafePathReason(entry.name, limits.maxPathLength) ?? (seen.has(entry.name) ? "duplicate path" : null);
      if (unsafe !== null) throw new AppError("INVALID_PACKAGE", `The package has an unsafe entry: ${unsafe}.`);
      seen.add(entry.name);
      if (entry.method !== 0 && entry.method !== 8) throw invalid("an entry uses an unsupported compression method");
      declared += entry.size;
    }
    if (declared > limits.maxUncompressedBytes) {
      throw new AppError("PAYLOAD_TOO_LARGE", "The package expands past the uncompressed size limit.");
    }
    const manifest: ManifestFile[] = [];
    for (const entry of entries) {
      const stored = storedBytes(bytes, entry);
      const data = entry.method === 0 ? stored : inflateExactly(stored, entry.size);
      if (data.length !== entry.size) throw invalid("an entry inflates to other than its declared size");
      if (crc32(data) !== entry.crc) throw invalid("an entry fails its CRC-32 check");
      if (isDirectoryEntry(entry.name)) continue;
      manifest.push({ path: entry.name, size: data.length, sha256: await webCryptoHasher.sha256Hex(data) });
    }
    if (manifest.length === 0) throw new AppError("INVALID_PACKAGE", "The package contains no files.");
    return sortManifest(manifest);
  },
};
