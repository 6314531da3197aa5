// Renders a deep link as a QR code image — an SVG for pages, a PNG for places that want a bitmap —
// built from the `qr` library's module matrix. Both images are drawn here rather than taken from the
// library's own outputs so that the bytes are deterministic, compact and exactly the matrix.
import encodeQR from "qr";

/** Quiet zone in modules: the QR spec asks for 4 so scanners can find the finder patterns. */
const BORDER = 4;
/** Pixels per module by default: big enough for a phone camera to read a ~600-character link off a screen. */
const DEFAULT_SCALE = 8;
/** Upper bound on the scale, so a caller's typo cannot ask for a gigapixel PNG. */
const MAX_SCALE = 64;

/** Rendering options shared by both image formats. */
export type QrImageOptions = { scale?: number };

/** The QR symbol for `text`, quiet zone included, as rows of modules (true = dark). */
export function qrMatrix(text: string): boolean[][] {
  try {
    return encodeQR(text, "raw", { ecc: "medium", border: BORDER });
  } catch (cause) {
    throw new Error(`Text of ${text.length} characters is too long to encode as a QR code.`, { cause });
  }
}

/** The scale to draw with; refused rather than clamped so a wrong value is noticed. */
function scaleOf(opts: QrImageOptions | undefined): number {
  const scale = opts?.scale ?? DEFAULT_SCALE;
  if (!Number.isInteger(scale) || scale < 1 || scale > MAX_SCALE) {
    throw new Error(`QR scale must be an integer from 1 to ${MAX_SCALE}, not ${scale}.`);
  }
  return scale;
}

/** Each row's runs of dark modules as [start, length]: one rectangle per run keeps the path short. */
function darkRuns(row: boolean[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let x = 0; x < row.length; x++) {
    if (!row[x]) continue;
    const start = x;
    while (row[x + 1]) x++;
    runs.push([start, x - start + 1]);
  }
  return runs;
}

/** A standalone SVG document, one path in module units, so it scales without blurring the modules. */
export function qrSvg(text: string, opts?: QrImageOptions): string {
  const matrix = qrMatrix(text);
  const size = matrix.length;
  const px = size * scaleOf(opts);
  let d = "";
  matrix.forEach((row, y) => {
    for (const [x, len] of darkRuns(row)) d += `M${x} ${y}h${len}v1h-${len}z`;
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="${px}" height="${px}" shape-rendering="crispEdges">` +
    `<rect width="${size}" height="${size}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`
  );
}

/** CRC-32 (IEEE) table, computed on first use: PNG chunks are few, so no need to ship it precomputed. */
let crcTable: Uint32Array | undefined;

/** CRC-32 of `bytes`, which every PNG chunk carries over its type and data. */
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of bytes) c = (crcTable[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, then the CRC over type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** 1-bit grayscale scanlines (0 = black), each led by filter byte 0: modules are already flat colour. */
function scanlines(matrix: boolean[][], scale: number): Uint8Array<ArrayBuffer> {
  const width = matrix.length * scale;
  const stride = 1 + Math.ceil(width / 8);
  const raw = new Uint8Array(stride * width);
  matrix.forEach((row, y) => {
    const first = y * scale * stride;
    for (let px = 0; px < width; px++) {
      const at = first + 1 + (px >> 3);
      if (!row[Math.floor(px / scale)]) raw[at] = (raw[at] as number) | (0x80 >> (px & 7));
    }
    // The other pixel rows of this module row are the same scanline.
    for (let copy = 1; copy < scale; copy++) raw.copyWithin(first + copy * stride, first, first + stride);
  });
  return raw;
}

/** Zlib-wrapped deflate, which is what IDAT holds; the runtime's compressor keeps the worker bundle small. */
async function zlib(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The PNG file signature. */
const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A 1-bit grayscale PNG: the smallest bitmap every image viewer and mail client will show. */
export async function qrPng(text: string, opts?: QrImageOptions): Promise<Uint8Array<ArrayBuffer>> {
  const matrix = qrMatrix(text);
  const scale = scaleOf(opts);
  const width = matrix.length * scale;
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, width);
  header.set([1, 0, 0, 0, 0], 8); // bit depth 1, grayscale, deflate, filter method 0, no interlace
  const parts = [
    SIGNATURE,
    chunk("IHDR", header),
    chunk("IDAT", await zlib(scanlines(matrix, scale))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    png.set(part, at);
    at += part.length;
  }
  return png;
}
