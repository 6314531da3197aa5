// The incremental patch format `updraft-zstd-v1`, shared by the service (which builds patches) and
// this SDK (which applies them), so the two cannot disagree on a byte. Pure: the zstd codec is passed
// in (the service's is WebAssembly, the SDK's decoder an adapter). Specified in docs/protocol.md.
//
// A package's files, in manifest order (sorted by path), make one stream of records
// `<path as UTF-8> 0x00 <the file's bytes>`: the base stream B (the installed version) and the
// target stream T (the offered version). A patch cuts T into segments of at most a few MB; each is
// one zstd frame compressed with a byte range of B as raw-content dictionary, chosen to cover the
// same path range (similar files sort near each other even when renamed or content-hashed). Applying
// decodes every segment, joins them into T and reads T back into files with the target manifest's
// paths and sizes; the caller then checks every file's sha256 against that signed manifest.
import { utf8Decode, utf8Encode } from "./bytes.ts";
import type { ManifestFile } from "./canonical.ts";

/** The one patch format this module reads and writes: what clients declare in `patchFormats`. */
export const PATCH_FORMAT = "updraft-zstd-v1";

/** First line of every patch: the container's name and version. */
export const PATCH_MAGIC = "updraft-patch-v1\n";

/** Largest header line a reader accepts (bytes). */
export const MAX_PATCH_HEADER_BYTES = 1024 * 1024;

/** One segment: `size` bytes of T, compressed into `frame` bytes, with B[dict[0], dict[1]) as dictionary. */
export interface PatchSegment {
  size: number;
  dict: [number, number];
  frame: number;
}

/** The header (the container's second line, JSON): which packages the patch joins, and its segments. */
export interface PatchHeader {
  format: typeof PATCH_FORMAT;
  /** The package the patch applies to: its sha256 and its manifest's sha256. */
  base: { sha256: string; manifestSha256: string };
  /** The package the patch gives: its sha256 and its manifest's sha256. */
  target: { sha256: string; manifestSha256: string };
  segments: PatchSegment[];
}

/** A file with its bytes, in a package's stream. */
export interface PatchFile {
  path: string;
  bytes: Uint8Array;
}

/** Raised when a patch cannot be read or applied (the caller falls back to the full package). */
export class PatchError extends Error {
  override readonly name = "PatchError";
}

/** Bytes of the stream of `files` (each record: path, one 0x00 byte, the file's bytes). */
export function streamLength(files: readonly { path: string; size: number }[]): number {
  let n = 0;
  for (const f of files) n += utf8Encode(f.path).length + 1 + f.size;
  return n;
}

/** The stream of `files`, which must be in manifest order (sorted by path). */
export function buildStream(files: readonly PatchFile[]): Uint8Array {
  const paths = files.map((f) => utf8Encode(f.path));
  let n = 0;
  for (let i = 0; i < files.length; i++)
    n += (paths[i] as Uint8Array).length + 1 + (files[i] as PatchFile).bytes.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i < files.length; i++) {
    const p = paths[i] as Uint8Array;
    out.set(p, at);
    at += p.length + 1; // the 0x00 separator is already zero
    const b = (files[i] as PatchFile).bytes;
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Where each record of a stream starts, its path, and where it ends. */
interface Record {
  path: string;
  start: number;
  end: number;
}

function recordsOf(files: readonly { path: string; size: number }[]): Record[] {
  const out: Record[] = [];
  let at = 0;
  for (const f of files) {
    const end = at + utf8Encode(f.path).length + 1 + f.size;
    out.push({ path: f.path, start: at, end });
    at = end;
  }
  return out;
}

/** How a patch is cut: segment and dictionary bounds (bytes). */
export interface PatchPlanOptions {
  /** Most bytes of T per segment. */
  segmentBytes: number;
  /** Most bytes of B per segment's dictionary. */
  dictBytes: number;
}

export const DEFAULT_PLAN: PatchPlanOptions = { segmentBytes: 2 * 1024 * 1024, dictBytes: 4 * 1024 * 1024 };

/** zstd reads a dictionary starting with these bytes as a formatted dictionary, not raw content. */
const DICT_MAGIC = [0x37, 0xa4, 0x30, 0xec];

/**
 * Cuts T into segments (whole records while they fit, a record larger than a segment across
 * several) and gives each the range of B holding the base records whose paths fall between the end
 * of the previous segment's paths and the end of its own (the last segment takes the rest of B), so
 * every base record serves the segment where its path sorts. A range larger than `dictBytes` is
 * narrowed around the part that lines up with the segment. Deterministic: the same inputs always
 * give the same plan.
 */
export function planSegments(
  base: readonly { path: string; size: number }[],
  target: readonly { path: string; size: number }[],
  options: PatchPlanOptions = DEFAULT_PLAN,
): { start: number; end: number; dict: [number, number] }[] {
  const b = recordsOf(base);
  const t = recordsOf(target);
  const total = t.length === 0 ? 0 : (t[t.length - 1] as Record).end;
  const baseTotal = b.length === 0 ? 0 : (b[b.length - 1] as Record).end;
  // Segment bounds in T, each with the path of the record it ends in.
  const cuts: { start: number; end: number; firstPath: string; lastPath: string; firstOffset: number }[] = [];
  let start = 0;
  let i = 0; // the record holding byte `start` of T
  while (start < total) {
    while ((t[i] as Record).end <= start) i++;
    let end = start;
    let j = i;
    // Whole records while they fit; a record larger than a segment goes in segment-sized pieces.
    while (j < t.length && (t[j] as Record).end - start <= options.segmentBytes) end = (t[j++] as Record).end;
    if (end === start) end = Math.min(start + options.segmentBytes, (t[i] as Record).end);
    let last = i;
    while ((t[last] as Record).end < end) last++;
    const first = t[i] as Record;
    cuts.push({
      start,
      end,
      firstPath: first.path,
      lastPath: (t[last] as Record).path,
      firstOffset: start - first.start,
    });
    start = end;
  }
  const plan: { start: number; end: number; dict: [number, number] }[] = [];
  let previousLast: string | null = null;
  for (let s = 0; s < cuts.length; s++) {
    const cut = cuts[s] as (typeof cuts)[number];
    const isLast = s === cuts.length - 1;
    // Base records with previousLast < path <= lastPath (the last segment: to the end of B). A
    // segment continuing the record of the previous one starts at that same path.
    let lo = 0;
    while (lo < b.length && previousLast !== null && (b[lo] as Record).path < previousLast) lo++;
    if (previousLast !== null && cut.firstPath !== previousLast) {
      while (lo < b.length && (b[lo] as Record).path <= previousLast) lo++;
    }
    let hi = lo;
    while (hi < b.length && (isLast || (b[hi] as Record).path <= cut.lastPath)) hi++;
    let dictStart = lo < b.length ? (b[lo] as Record).start : baseTotal;
    let dictEnd = hi > lo ? (b[hi - 1] as Record).end : dictStart;
    if (dictEnd - dictStart > options.dictBytes) {
      // Too wide: keep dictBytes around where the segment's first byte lines up in B.
      const same = b.find((r) => r.path === cut.firstPath);
      const anchor = same !== undefined ? Math.min(same.start + cut.firstOffset, same.end) : dictStart;
      let from = Math.max(dictStart, anchor - Math.floor(options.dictBytes / 4));
      from = Math.min(from, dictEnd - options.dictBytes);
      dictStart = from;
      dictEnd = from + options.dictBytes;
    }
    plan.push({ start: cut.start, end: cut.end, dict: [dictStart, dictEnd] });
    previousLast = cut.lastPath;
  }
  return plan;
}

/** Moves a dictionary start past zstd's dictionary magic (a raw dictionary must not begin with it). */
export function safeDictStart(stream: Uint8Array, start: number, end: number): number {
  let at = start;
  while (
    end - at >= 4 &&
    stream[at] === DICT_MAGIC[0] &&
    stream[at + 1] === DICT_MAGIC[1] &&
    stream[at + 2] === DICT_MAGIC[2] &&
    stream[at + 3] === DICT_MAGIC[3]
  ) {
    at++;
  }
  return at;
}

/** Compresses `data` with `dict` as raw-content dictionary into one zstd frame. */
export type ZstdCompress = (data: Uint8Array, dict: Uint8Array) => Uint8Array;

/** Decodes one zstd frame of exactly `size` bytes with raw-content dictionary `dict`. */
export type ZstdDecompress = (frame: Uint8Array, dict: Uint8Array, size: number) => Uint8Array | Promise<Uint8Array>;

/**
 * Builds the patch from `base` to `target` (files in manifest order). `compress` is called once per
 * segment; `onSegment` is told after each (the service yields and measures between segments).
 */
export async function createPatch(
  base: { sha256: string; manifestSha256: string; files: readonly PatchFile[] },
  target: { sha256: string; manifestSha256: string; files: readonly PatchFile[] },
  compress: ZstdCompress,
  options: PatchPlanOptions = DEFAULT_PLAN,
  onSegment?: (index: number, count: number) => void | Promise<void>,
): Promise<Uint8Array> {
  const sizes = (files: readonly PatchFile[]) => files.map((f) => ({ path: f.path, size: f.bytes.length }));
  const plan = planSegments(sizes(base.files), sizes(target.files), options);
  const b = buildStream(base.files);
  const t = buildStream(target.files);
  const frames: Uint8Array[] = [];
  const segments: PatchSegment[] = [];
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i] as (typeof plan)[number];
    const dictStart = safeDictStart(b, p.dict[0], p.dict[1]);
    const frame = compress(t.subarray(p.start, p.end), b.subarray(dictStart, p.dict[1]));
    frames.push(frame);
    segments.push({ size: p.end - p.start, dict: [dictStart, p.dict[1]], frame: frame.length });
    await onSegment?.(i, plan.length);
  }
  const header: PatchHeader = {
    format: PATCH_FORMAT,
    base: { sha256: base.sha256, manifestSha256: base.manifestSha256 },
    target: { sha256: target.sha256, manifestSha256: target.manifestSha256 },
    segments,
  };
  return encodePatch(header, frames);
}

/** The container: the magic line, the header as one JSON line, then the frames back to back. */
export function encodePatch(header: PatchHeader, frames: readonly Uint8Array[]): Uint8Array {
  const head = utf8Encode(`${PATCH_MAGIC}${JSON.stringify(header)}\n`);
  let n = head.length;
  for (const f of frames) n += f.length;
  const out = new Uint8Array(n);
  out.set(head, 0);
  let at = head.length;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

const SHA256 = /^[0-9a-f]{64}$/;
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Reads a patch's container: its header, checked for shape, and its frames, which must fill the rest
 * of the bytes exactly. Throws PatchError for anything else.
 */
export function parsePatch(bytes: Uint8Array): { header: PatchHeader; frames: Uint8Array[] } {
  const magic = utf8Encode(PATCH_MAGIC);
  for (let i = 0; i < magic.length; i++) {
    if (bytes[i] !== magic[i]) throw new PatchError("The patch does not start with updraft-patch-v1.");
  }
  const limit = Math.min(bytes.length, magic.length + MAX_PATCH_HEADER_BYTES);
  let nl = -1;
  for (let i = magic.length; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      nl = i;
      break;
    }
  }
  if (nl < 0) throw new PatchError("The patch header has no end.");
  const text = utf8Decode(bytes.subarray(magic.length, nl));
  let value: unknown;
  try {
    value = text === null ? null : JSON.parse(text);
  } catch {
    value = null;
  }
  const h = value as Partial<PatchHeader> | null;
  const ref = (r: unknown) =>
    typeof r === "object" &&
    r !== null &&
    SHA256.test(String((r as { sha256?: unknown }).sha256)) &&
    SHA256.test(String((r as { manifestSha256?: unknown }).manifestSha256));
  if (
    h === null ||
    typeof h !== "object" ||
    h.format !== PATCH_FORMAT ||
    !ref(h.base) ||
    !ref(h.target) ||
    !Array.isArray(h.segments)
  ) {
    throw new PatchError("The patch header is not an updraft-zstd-v1 header.");
  }
  const frames: Uint8Array[] = [];
  let at = nl + 1;
  for (const s of h.segments as unknown[]) {
    const seg = s as Partial<PatchSegment> | null;
    if (
      seg === null ||
      typeof seg !== "object" ||
      !isCount(seg.size) ||
      !isCount(seg.frame) ||
      !Array.isArray(seg.dict) ||
      seg.dict.length !== 2 ||
      !isCount(seg.dict[0]) ||
      !isCount(seg.dict[1]) ||
      seg.dict[0] > seg.dict[1]
    ) {
      throw new PatchError("The patch header has a malformed segment.");
    }
    if (at + seg.frame > bytes.length) throw new PatchError("The patch is truncated.");
    frames.push(bytes.subarray(at, at + seg.frame));
    at += seg.frame;
  }
  if (at !== bytes.length) throw new PatchError("The patch has bytes after its last segment.");
  return { header: h as PatchHeader, frames };
}

/**
 * Applies a patch to the base files (in base manifest order, already verified as installed) and
 * returns the target's files in target manifest order. Checks that the patch is for exactly this base
 * and target, that its segments fill exactly the target stream the manifest describes and use only
 * bytes of the base stream, and that every record carries the manifest's path. Throws PatchError; the
 * caller still checks every file's sha256 against the target manifest.
 */
export async function applyPatch(
  patch: Uint8Array,
  base: { sha256: string; manifestSha256: string; files: readonly PatchFile[] },
  target: { sha256: string; manifestSha256: string; manifest: readonly ManifestFile[] },
  decompress: ZstdDecompress,
): Promise<PatchFile[]> {
  const { header, frames } = parsePatch(patch);
  if (header.base.sha256 !== base.sha256 || header.base.manifestSha256 !== base.manifestSha256) {
    throw new PatchError("The patch is for another base package.");
  }
  if (header.target.sha256 !== target.sha256 || header.target.manifestSha256 !== target.manifestSha256) {
    throw new PatchError("The patch gives another package than the one offered.");
  }
  const total = streamLength(target.manifest);
  let sum = 0;
  for (const s of header.segments) sum += s.size;
  if (sum !== total) throw new PatchError("The patch's segments do not add up to the target's files.");
  const b = buildStream(base.files);
  const t = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    const seg = header.segments[i] as PatchSegment;
    if (seg.dict[1] > b.length) throw new PatchError("A segment's dictionary lies outside the base.");
    let out: Uint8Array;
    try {
      out = await decompress(frames[i] as Uint8Array, b.subarray(seg.dict[0], seg.dict[1]), seg.size);
    } catch (error) {
      throw new PatchError(`Segment ${i} does not decode: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (out.length !== seg.size) throw new PatchError(`Segment ${i} decodes to another size than its header says.`);
    t.set(out, at);
    at += out.length;
  }
  // Read T back with the manifest's paths and sizes.
  const files: PatchFile[] = [];
  let p = 0;
  for (const f of target.manifest) {
    const path = utf8Encode(f.path);
    for (let k = 0; k < path.length; k++) {
      if (t[p + k] !== path[k]) throw new PatchError(`The patched stream does not carry ${f.path} where expected.`);
    }
    if (t[p + path.length] !== 0) throw new PatchError(`The patched stream does not carry ${f.path} where expected.`);
    p += path.length + 1;
    files.push({ path: f.path, bytes: t.slice(p, p + f.size) });
    p += f.size;
  }
  return files;
}
