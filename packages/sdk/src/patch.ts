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
//
// The container is binary and small (a one-segment patch spends 4 bytes on it): which base and
// target a patch joins is said by the signed check answer that offers it (`patch.baseSha256`, the
// package and manifest hashes, and the patch's own sha256), so the patch does not repeat it.
import { utf8Encode } from "./bytes.ts";
import type { ManifestFile } from "./canonical.ts";

/** The one patch format this module reads and writes: what clients declare in `patchFormats`. */
export const PATCH_FORMAT = "updraft-zstd-v1";

/** First byte of every `updraft-zstd-v1` patch: the container's version. */
export const PATCH_TAG = 0xd1;

/** zstd's frame magic (28 B5 2F FD): every frame starts with it, so the container leaves it out. */
const FRAME_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** One segment: `size` bytes of T, compressed into `frame` bytes, with B[dict[0], dict[1]) as dictionary. */
export interface PatchSegment {
  size: number;
  dict: [number, number];
  frame: number;
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
  base: readonly PatchFile[],
  target: readonly PatchFile[],
  compress: ZstdCompress,
  options: PatchPlanOptions = DEFAULT_PLAN,
  onSegment?: (index: number, count: number) => void | Promise<void>,
): Promise<Uint8Array> {
  const sizes = (files: readonly PatchFile[]) => files.map((f) => ({ path: f.path, size: f.bytes.length }));
  const plan = planSegments(sizes(base), sizes(target), options);
  return createPatchFromStreams(buildStream(base), buildStream(target), plan, compress, onSegment);
}

/**
 * createPatch over streams already built (buildStream) and a plan (planSegments of the same files):
 * what a caller holding only the streams uses, so the files need not stay in memory beside them.
 */
export async function createPatchFromStreams(
  b: Uint8Array,
  t: Uint8Array,
  plan: readonly { start: number; end: number; dict: [number, number] }[],
  compress: ZstdCompress,
  onSegment?: (index: number, count: number) => void | Promise<void>,
): Promise<Uint8Array> {
  const frames: Uint8Array[] = [];
  const segments: PatchSegment[] = [];
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i] as (typeof plan)[number];
    const dictStart = safeDictStart(b, p.dict[0], p.dict[1]);
    const frame = compress(t.subarray(p.start, p.end), b.subarray(dictStart, p.dict[1]));
    for (let k = 0; k < FRAME_MAGIC.length; k++) {
      if (frame[k] !== FRAME_MAGIC[k]) throw new PatchError("The compressor did not make a zstd frame.");
    }
    const stored = frame.subarray(FRAME_MAGIC.length);
    frames.push(stored);
    segments.push({ size: p.end - p.start, dict: [dictStart, p.dict[1]], frame: stored.length });
    await onSegment?.(i, plan.length);
  }
  return encodePatch(segments, frames, b.length);
}

/**
 * Decodes every segment of `patch` with each of `decoders` and compares it with the target stream:
 * PatchError unless each gives exactly T. One segment is decoded at a time (no second copy of T).
 */
export async function checkPatch(
  patch: Uint8Array,
  b: Uint8Array,
  t: Uint8Array,
  decoders: readonly ZstdDecompress[],
): Promise<void> {
  const { segments, frames } = parsePatch(patch, b.length, t.length);
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    const seg = segments[i] as PatchSegment;
    const want = t.subarray(at, at + seg.size);
    for (const decompress of decoders) {
      const got = await decompress(frames[i] as Uint8Array, b.subarray(seg.dict[0], seg.dict[1]), seg.size);
      if (got.length !== want.length) throw new PatchError(`Segment ${i} does not decode to the target.`);
      for (let k = 0; k < want.length; k++) {
        if (got[k] !== want[k]) throw new PatchError(`Segment ${i} does not decode to the target.`);
      }
    }
    at += seg.size;
  }
}

/** Unsigned LEB128, as the container writes every number. */
function pushVarint(out: number[], n: number): void {
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/**
 * The container: the tag byte, the segment count, then per segment its dictionary's start in B and
 * its distance from B's end, and (for every segment but the last) its decoded size and its frame's
 * length; then the frames, each without zstd's 4-byte magic, the last running to the end. The last
 * segment's size is what T's length leaves, which the target manifest gives.
 */
export function encodePatch(
  segments: readonly PatchSegment[],
  frames: readonly Uint8Array[],
  baseLength: number,
): Uint8Array {
  const head: number[] = [PATCH_TAG];
  pushVarint(head, segments.length);
  segments.forEach((s, i) => {
    pushVarint(head, s.dict[0]);
    pushVarint(head, baseLength - s.dict[1]);
    if (i < segments.length - 1) {
      pushVarint(head, s.size);
      pushVarint(head, s.frame);
    }
  });
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

/**
 * Reads a patch's container for a base stream of `baseLength` bytes and a target stream of
 * `targetLength` bytes: its segments and their frames (zstd's magic put back). Every number must be
 * in its shortest form, every dictionary inside B, the sizes must add up to T and the frames must
 * fill the patch exactly. Throws PatchError for anything else.
 */
export function parsePatch(
  bytes: Uint8Array,
  baseLength: number,
  targetLength: number,
): { segments: PatchSegment[]; frames: Uint8Array[] } {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (at >= bytes.length) throw new PatchError("The patch is truncated.");
      const byte = bytes[at++] as number;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new PatchError("The patch has a number in a longer form than needed.");
        if (!Number.isSafeInteger(value)) break;
        return value;
      }
      scale *= 0x80;
    }
    throw new PatchError("The patch has a number out of range.");
  };
  if (bytes[0] !== PATCH_TAG) throw new PatchError("The patch is not an updraft-zstd-v1 patch.");
  at = 1;
  const count = varint();
  // Every segment takes at least two header bytes: a count beyond what the patch holds is a lie.
  if (count > bytes.length) throw new PatchError("The patch is truncated.");
  if ((count === 0) !== (targetLength === 0)) throw new PatchError("The patch's segments do not add up to the target.");
  const segments: PatchSegment[] = [];
  let sizes = 0;
  let frameBytes = 0;
  for (let i = 0; i < count; i++) {
    const dictStart = varint();
    const fromEnd = varint();
    if (fromEnd > baseLength || dictStart > baseLength - fromEnd) {
      throw new PatchError("A segment's dictionary lies outside the base.");
    }
    const last = i === count - 1;
    const size = last ? targetLength - sizes : varint();
    const frame = last ? -1 : varint();
    if (size <= 0 || sizes + size > targetLength)
      throw new PatchError("The patch's segments do not add up to the target.");
    sizes += size;
    if (!last) frameBytes += frame;
    segments.push({ size, dict: [dictStart, baseLength - fromEnd], frame });
  }
  if (sizes !== targetLength) throw new PatchError("The patch's segments do not add up to the target.");
  if (at + frameBytes > bytes.length) throw new PatchError("The patch is truncated.");
  const frames: Uint8Array[] = [];
  for (const seg of segments) {
    const length = seg.frame < 0 ? bytes.length - at : seg.frame;
    if (length <= 0) throw new PatchError("The patch is truncated.");
    seg.frame = length;
    const frame = new Uint8Array(FRAME_MAGIC.length + length);
    frame.set(FRAME_MAGIC, 0);
    frame.set(bytes.subarray(at, at + length), FRAME_MAGIC.length);
    frames.push(frame);
    at += length;
  }
  return { segments, frames };
}

/**
 * Applies a patch to the base files (in base manifest order: the installed version's, which the
 * signed answer named as the patch's base) and returns the target's files in target manifest order.
 * Checks that the segments fill exactly the target stream the manifest describes and use only bytes
 * of the base stream, and that every record carries the manifest's path. Throws PatchError; the
 * caller still checks every file's sha256 against the target manifest.
 */
export async function applyPatch(
  patch: Uint8Array,
  base: readonly PatchFile[],
  target: readonly ManifestFile[],
  decompress: ZstdDecompress,
): Promise<PatchFile[]> {
  const b = buildStream(base);
  const total = streamLength(target);
  const { segments, frames } = parsePatch(patch, b.length, total);
  const t = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    const seg = segments[i] as PatchSegment;
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
  for (const f of target) {
    const path = utf8Encode(f.path);
    for (let k = 0; k < path.length; k++) {
      if (t[p + k] !== path[k]) throw new PatchError(`The patched stream does not carry ${f.path} where expected.`);
    }
    if (t[p + path.length] !== 0) throw new PatchError(`The patched stream does not carry ${f.path} where expected.`);
    p += path.length + 1;
    // Views of T: the files share its one buffer rather than copying it.
    files.push({ path: f.path, bytes: t.subarray(p, p + f.size) });
    p += f.size;
  }
  return files;
}
