import { deflateSync, strToU8, zipSync } from "fflate";

/** A zip of text files, deterministic for equal inputs (fixed mtime). */
export function makeZip(files: Record<string, string>): Uint8Array {
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const [path, text] of Object.entries(files)) entries[path] = [strToU8(text), { mtime: new Date(2020, 0, 1) }];
  return zipSync(entries, { level: 6 });
}

export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 as zip uses it (written here, independently of the reader under test). */
export function zipCrc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Header fields a test may overwrite in one copy (local or central) to make the two disagree. */
export interface HeaderFields {
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  name: Uint8Array;
  extra: Uint8Array;
}

/** One entry of a hand-built archive. */
export interface RawEntry {
  name: string | Uint8Array;
  /** The entry's uncompressed bytes. */
  data: Uint8Array;
  /** 0 stored, 8 deflated (the default). */
  method?: number;
  /** Follow the data by a data descriptor, with its optional signature (true) or without it. */
  descriptor?: boolean | "unsigned";
  /** General-purpose flags added to the ones the builder sets (descriptor, UTF-8 name). */
  flags?: number;
  /** Leave the UTF-8 flag off even for a non-ASCII name. */
  noUtf8Flag?: boolean;
  /** The central record's external attributes. */
  external?: number;
  /** Bytes put after the compressed data and counted in its compressed size (junk after a deflate stream). */
  padData?: Uint8Array;
  /** Overwrites in the local header only. */
  local?: Partial<HeaderFields>;
  /** Overwrites in the central record only. */
  central?: Partial<HeaderFields & { comment: Uint8Array }>;
  /** Overwrites in the data descriptor. */
  descriptorFields?: Partial<Pick<HeaderFields, "crc" | "compressedSize" | "size">>;
  /** A local entry with no central record: what an extractor that walks local headers finds. */
  hidden?: boolean;
}

/** Raw bytes placed between entries (a gap no entry accounts for). */
export interface RawJunk {
  junk: Uint8Array;
}

export interface RawZipOptions {
  /** The archive comment. */
  comment?: Uint8Array;
  /** Bytes between the central directory and the end record, not counted in the directory's size. */
  beforeEnd?: Uint8Array;
  /** Bytes after the end record. */
  trailing?: Uint8Array;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

/**
 * A zip archive written field by field, so tests can craft what no archiver writes: hidden local
 * entries, gaps, comments, headers that disagree, descriptors. With no options it is a valid
 * archive: entries in order, central directory, end record.
 */
export function buildZip(items: (RawEntry | RawJunk)[], options: RawZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  let count = 0;
  const push = (part: Uint8Array) => {
    parts.push(part);
    offset += part.length;
  };
  for (const item of items) {
    if ("junk" in item) {
      push(item.junk);
      continue;
    }
    const name = typeof item.name === "string" ? strToU8(item.name) : item.name;
    const method = item.method ?? 8;
    const compressed = concat([method === 8 ? deflateSync(item.data) : item.data, item.padData ?? new Uint8Array(0)]);
    const nonAscii = name.some((b) => b >= 0x80);
    const flags = (item.flags ?? 0) | (item.descriptor ? 0x8 : 0) | (nonAscii && !item.noUtf8Flag ? 0x800 : 0);
    const fields: HeaderFields = {
      flags,
      method,
      crc: zipCrc32(item.data),
      compressedSize: compressed.length,
      size: item.data.length,
      name,
      extra: new Uint8Array(0),
    };
    const local = { ...fields, ...(item.descriptor ? { crc: 0, compressedSize: 0, size: 0 } : {}), ...item.local };
    const localOffset = offset;
    push(header(0x04034b50, local, null));
    push(compressed);
    if (item.descriptor) {
      const d = { ...fields, ...item.descriptorFields };
      const descriptor = new Uint8Array(item.descriptor === "unsigned" ? 12 : 16);
      const view = new DataView(descriptor.buffer);
      const at = item.descriptor === "unsigned" ? 0 : 4;
      if (at === 4) view.setUint32(0, 0x08074b50, true);
      view.setUint32(at, d.crc, true);
      view.setUint32(at + 4, d.compressedSize, true);
      view.setUint32(at + 8, d.size, true);
      push(descriptor);
    }
    if (item.hidden) continue;
    count++;
    const { comment, ...overrides } = item.central ?? {};
    central.push(
      header(0x02014b50, { ...fields, ...overrides }, { offset: localOffset, external: item.external ?? 0, comment }),
    );
  }
  const directory = concat(central);
  const end = new Uint8Array(22);
  const view = new DataView(end.buffer);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, count, true);
  view.setUint16(10, count, true);
  view.setUint32(12, directory.length, true);
  view.setUint32(16, offset, true);
  view.setUint16(20, options.comment?.length ?? 0, true);
  return concat([
    ...parts,
    directory,
    options.beforeEnd ?? new Uint8Array(0),
    end,
    options.comment ?? new Uint8Array(0),
    options.trailing ?? new Uint8Array(0),
  ]);
}

function header(
  signature: number,
  f: HeaderFields,
  central: { offset: number; external: number; comment: Uint8Array | undefined } | null,
): Uint8Array {
  const fixed = central ? 46 : 30;
  const comment = central?.comment ?? new Uint8Array(0);
  const out = new Uint8Array(fixed + f.name.length + f.extra.length + comment.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, signature, true);
  const at = central ? 6 : 4; // central records start with "version made by"
  if (central) view.setUint16(4, 20, true);
  view.setUint16(at, 20, true); // version needed to extract
  view.setUint16(at + 2, f.flags, true);
  view.setUint16(at + 4, f.method, true);
  view.setUint32(at + 6, 0x50210000, true); // 2020-01-01 00:00, DOS format
  view.setUint32(at + 10, f.crc, true);
  view.setUint32(at + 14, f.compressedSize, true);
  view.setUint32(at + 18, f.size, true);
  view.setUint16(at + 22, f.name.length, true);
  view.setUint16(at + 24, f.extra.length, true);
  if (central) {
    view.setUint16(32, comment.length, true);
    view.setUint32(38, central.external, true);
    view.setUint32(42, central.offset, true);
  }
  out.set(f.name, fixed);
  out.set(f.extra, fixed + f.name.length);
  out.set(comment, fixed + f.name.length + f.extra.length);
  return out;
}

/**
 * The attack that was found: the central directory lists only `index.js`, but the archive also
 * holds a local entry `evil.js` before it, which an extractor walking local headers unpacks.
 */
export function zipWithHiddenEntry(): Uint8Array {
  return buildZip([
    { name: "evil.js", data: strToU8("steal()"), hidden: true },
    { name: "index.js", data: strToU8("console.log('hello')") },
  ]);
}
