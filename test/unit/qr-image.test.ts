// The QR images are read back the way a consumer would: the SVG path is rasterised into modules and
// compared with the matrix, and the PNG is parsed chunk by chunk (CRCs checked against node:zlib's
// implementation), inflated, unfiltered and handed to the `qr` library's decoder, which must read the
// exact link back.
import { crc32 } from "node:zlib";
import { decodeQR } from "qr/decode.js";
import { describe, expect, it } from "vitest";
import { qrMatrix, qrPng, qrSvg } from "../../src/edge/qr-image";

const TOKEN =
  "v1.eyJyIjoicmVsXzAxaGszNXQ3Z2Z2cDJqOHE5bTRuNnI1czB4IiwiZSI6InRlc3QiLCJtIjoiY29tLmV4YW1wbGUuc2hvcCIsImV4cCI6MTc2MDAwMDAwMH0.c2lnbmF0dXJlLWJ5dGVzLWZvci10aGUtdGVzdC10b2tlbi0xMjM0NTY3ODkwYWJjZGVm";
const LONG_LINK = `updraft://preview?app=wallet&env=test&mp=com.example.shop&token=${TOKEN}`;
const SHORT_LINK = "updraft://preview?app=wallet";

/** The SVG's dark modules, rebuilt from its path's run rectangles; fails on any other path syntax. */
function rasteriseSvg(svg: string): { grid: boolean[][]; width: number; height: number } {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  const width = Number(/ width="(\d+)"/.exec(svg)?.[1]);
  const height = Number(/ height="(\d+)"/.exec(svg)?.[1]);
  const paths = [...svg.matchAll(/<path d="([^"]*)"/g)];
  expect(paths).toHaveLength(1);
  const d = paths[0]?.[1] ?? "";
  const grid = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  const runs = [...d.matchAll(/M(\d+) (\d+)h(\d+)v1h-(\d+)z/g)];
  expect(runs.map((r) => r[0]).join("")).toBe(d);
  for (const [, x, y, len, back] of runs) {
    expect(back).toBe(len);
    const row = grid[Number(y)] as boolean[];
    for (let i = 0; i < Number(len); i++) {
      expect(row[Number(x) + i]).toBe(false); // runs never overlap
      row[Number(x) + i] = true;
    }
  }
  return { grid, width, height };
}

type Chunk = { type: string; data: Uint8Array };

/** The PNG's chunks, with every length and CRC checked. */
function chunks(png: Uint8Array): Chunk[] {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = view.getUint32(at);
    expect(at + 12 + length).toBeLessThanOrEqual(png.length);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    expect(view.getUint32(at + 8 + length)).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    out.push({ type, data: png.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  return out;
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decodes our 1-bit grayscale PNGs into RGBA pixels, checking the header and the filter bytes. */
async function readPng(png: Uint8Array): Promise<{ width: number; height: number; data: Uint8Array }> {
  const list = chunks(png);
  expect(list.map((c) => c.type)).toEqual(["IHDR", "IDAT", "IEND"]);
  const [ihdr, idat] = list as [Chunk, Chunk];
  expect(ihdr.data).toHaveLength(13);
  const header = new DataView(ihdr.data.buffer, ihdr.data.byteOffset, 13);
  const width = header.getUint32(0);
  const height = header.getUint32(4);
  expect([...ihdr.data.subarray(8)]).toEqual([1, 0, 0, 0, 0]); // 1-bit grayscale, no interlace
  const raw = await inflate(idat.data);
  const stride = 1 + Math.ceil(width / 8);
  expect(raw).toHaveLength(stride * height);
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * stride]).toBe(0); // filter type None
    for (let x = 0; x < width; x++) {
      const bit = ((raw[y * stride + 1 + (x >> 3)] as number) >> (7 - (x & 7))) & 1;
      data.fill(bit ? 255 : 0, (y * width + x) * 4, (y * width + x) * 4 + 3);
      data[(y * width + x) * 4 + 3] = 255;
    }
  }
  return { width, height, data };
}

describe("QR images", () => {
  it("the matrix has the 4-module quiet zone", () => {
    const m = qrMatrix(LONG_LINK);
    expect(m.length).toBe(m[0]?.length);
    for (const row of [...m.slice(0, 4), ...m.slice(-4)]) expect(row.every((v) => !v)).toBe(true);
    for (const row of m) expect([...row.slice(0, 4), ...row.slice(-4)].every((v) => !v)).toBe(true);
    expect(m[4]?.[4]).toBe(true); // the top-left finder pattern's corner
  });

  for (const link of [SHORT_LINK, LONG_LINK]) {
    it(`the SVG draws exactly the matrix (${link.length} chars)`, () => {
      const svg = qrSvg(link);
      const matrix = qrMatrix(link);
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.endsWith("</svg>")).toBe(true);
      expect(svg).toContain('shape-rendering="crispEdges"');
      expect(svg).toContain('fill="#fff"');
      const { grid, width, height } = rasteriseSvg(svg);
      expect(width).toBe(matrix.length * 8);
      expect(height).toBe(matrix.length * 8);
      expect(grid).toEqual(matrix);
    });

    it(`the PNG decodes back to the exact link (${link.length} chars)`, async () => {
      const png = await qrPng(link);
      const image = await readPng(png);
      const matrix = qrMatrix(link);
      expect(image.width).toBe(matrix.length * 8);
      expect(image.height).toBe(matrix.length * 8);
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          const dark = matrix[Math.floor(y / 8)]?.[Math.floor(x / 8)];
          if ((image.data[(y * image.width + x) * 4] === 0) !== dark) throw new Error(`pixel ${x},${y} is wrong`);
        }
      }
      expect(decodeQR(image)).toBe(link);
    });
  }

  it("is deterministic, and different links give different images", async () => {
    expect(qrSvg(LONG_LINK)).toBe(qrSvg(LONG_LINK));
    expect(await qrPng(LONG_LINK)).toEqual(await qrPng(LONG_LINK));
    expect(qrSvg(`${SHORT_LINK}x`)).not.toBe(qrSvg(SHORT_LINK));
    expect(await qrPng(`${SHORT_LINK}x`)).not.toEqual(await qrPng(SHORT_LINK));
  });

  it("the scale option sets the pixel size, and odd scales still decode", async () => {
    const modules = qrMatrix(LONG_LINK).length;
    const svg = rasteriseSvg(qrSvg(LONG_LINK, { scale: 3 }));
    expect(svg.width).toBe(modules * 3);
    const image = await readPng(await qrPng(LONG_LINK, { scale: 3 }));
    expect(image.width).toBe(modules * 3);
    expect(image.height).toBe(modules * 3);
    expect(decodeQR(image)).toBe(LONG_LINK);
    expect((await readPng(await qrPng(SHORT_LINK, { scale: 1 }))).width).toBe(qrMatrix(SHORT_LINK).length);
  });

  it("refuses a bad scale", async () => {
    expect(() => qrSvg(SHORT_LINK, { scale: 0 })).toThrow(/scale/);
    expect(() => qrSvg(SHORT_LINK, { scale: 2.5 })).toThrow(/scale/);
    await expect(qrPng(SHORT_LINK, { scale: 1000 })).rejects.toThrow(/scale/);
  });

  it("refuses a text too long to encode", async () => {
    const text = "x".repeat(5000);
    expect(() => qrMatrix(text)).toThrow("Text of 5000 characters is too long to encode as a QR code.");
    expect(() => qrSvg(text)).toThrow(/too long/);
    await expect(qrPng(text)).rejects.toThrow(/too long/);
  });

  it("a 600-character link still fits", async () => {
    const link = `${LONG_LINK}&pad=${"a".repeat(600 - LONG_LINK.length - 5)}`;
    expect(link).toHaveLength(600);
    expect(decodeQR(await readPng(await qrPng(link)))).toBe(link);
  });
});
