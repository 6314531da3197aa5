// A second view of a zip archive, the one an extractor that never reads the central directory has:
// it walks local headers from offset 0 in order, like Java's ZipInputStream (common on Android),
// finding where a deflated entry ends by inflating it (node:zlib, independent of the reader under
// test) and reading a data descriptor after it when the entry is flagged so. Node only.
import { createHash } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import { zipCrc32 } from "./zip";

export interface SequentialEntry {
  name: string;
  data: Uint8Array;
}

export interface SequentialView {
  entries: SequentialEntry[];
  /** Where the walk stopped: the first offset that does not start a local header. */
  end: number;
}

const LOCAL_SIGNATURE = 0x04034b50;
const DESCRIPTOR_SIGNATURE = 0x08074b50;

/** Reads `zip` as ZipInputStream would; throws where ZipInputStream would throw. */
export function readSequentially(zip: Uint8Array): SequentialView {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const entries: SequentialEntry[] = [];
  let at = 0;
  while (at + 4 <= zip.length && u32(at) === LOCAL_SIGNATURE) {
    if (at + 30 > zip.length) throw new Error(`truncated local header at ${at}`);
    const flags = u16(at + 6);
    const method = u16(at + 8);
    if (flags & 1) throw new Error("encrypted entry");
    const nameStart = at + 30;
    const dataStart = nameStart + u16(at + 26) + u16(at + 28);
    const name = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      zip.subarray(nameStart, nameStart + u16(at + 26)),
    );
    const described = (flags & 8) !== 0;
    let declared = { crc: u32(at + 14), compressedSize: u32(at + 18), size: u32(at + 22) };
    let data: Uint8Array;
    let consumed: number;
    if (method === 8) {
      const result = inflateRawSync(zip.subarray(dataStart), { info: true }) as unknown as {
        buffer: Buffer;
        engine: { bytesWritten: number };
      };
      data = new Uint8Array(result.buffer);
      consumed = result.engine.bytesWritten;
    } else if (method === 0) {
      if (described) throw new Error("only DEFLATED entries can have EXT descriptor");
      consumed = declared.compressedSize;
      if (dataStart + consumed > zip.length) throw new Error("truncated stored entry");
      data = zip.slice(dataStart, dataStart + consumed);
    } else {
      throw new Error(`unsupported method ${method}`);
    }
    at = dataStart + consumed;
    if (described) {
      if (at + 4 <= zip.length && u32(at) === DESCRIPTOR_SIGNATURE) at += 4;
      if (at + 12 > zip.length) throw new Error("truncated data descriptor");
      declared = { crc: u32(at), compressedSize: u32(at + 4), size: u32(at + 8) };
      at += 12;
    }
    if (declared.compressedSize !== consumed) throw new Error(`invalid entry compressed size (${name})`);
    if (declared.size !== data.length) throw new Error(`invalid entry size (${name})`);
    if (declared.crc !== zipCrc32(data)) throw new Error(`invalid entry CRC (${name})`);
    entries.push({ name, data });
  }
  return { entries, end: at };
}

/** The entry names a zip's central directory lists, in its order (read independently of the reader). */
export function centralNames(zip: Uint8Array): { names: string[]; offset: number } {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  const count = view.getUint16(eocd + 10, true);
  const offset = view.getUint32(eocd + 16, true);
  const names: string[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    const nameLength = view.getUint16(at + 28, true);
    names.push(new TextDecoder().decode(zip.subarray(at + 46, at + 46 + nameLength)));
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return { names, offset };
}

/** The manifest the sequential view gives: files only, sorted by path like the reader's. */
export function sequentialManifest(zip: Uint8Array) {
  return readSequentially(zip)
    .entries.filter((entry) => !entry.name.endsWith("/"))
    .map((entry) => ({
      path: entry.name,
      size: entry.data.length,
      sha256: createHash("sha256").update(entry.data).digest("hex"),
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
