// The vendored zstd decoder (src/zstd-decode.ts) against the reference zstd: frames are made here by
// @bokuweb/zstd-wasm (the C library in WebAssembly, as the service runs it), with and without a
// raw-content dictionary, and decoded back byte for byte; damaged frames must throw or give exactly
// what the reference gives, never bytes of another length; the npm fzstd it was copied from is the
// baseline for frames without a dictionary.
import {
  compress,
  compressUsingDict,
  createCCtx,
  createDCtx,
  decompressUsingDict,
  freeCCtx,
  freeDCtx,
  init,
} from "@bokuweb/zstd-wasm";
import { decompress as fzstdDecompress } from "fzstd";
import { beforeAll, describe, expect, it } from "vitest";
import { concatBytes } from "../src/bytes.ts";
import { zstdDecompress } from "../src/zstd-decode.ts";
import { rng } from "./fixtures.ts";

let cctx = 0;
let dctx = 0;

beforeAll(async () => {
  await init();
  cctx = createCCtx();
  dctx = createDCtx();
  return () => {
    freeCCtx(cctx);
    freeDCtx(dctx);
  };
});

const KB = 1024;
const MB = 1024 * 1024;
const none = new Uint8Array(0);

/** A frame for `data`, with `dict` as raw-content dictionary unless it is empty. */
const zstd = (data: Uint8Array, dict: Uint8Array, level: number): Uint8Array =>
  dict.length ? compressUsingDict(cctx, data, dict, level) : compress(data, level);

/** What the reference zstd decodes `frame` to, or null when it refuses it. */
function reference(frame: Uint8Array, dict: Uint8Array): Uint8Array | null {
  try {
    return decompressUsingDict(dctx, frame, dict);
  } catch {
    return null;
  }
}

/** The decoder's output, or the message of what it threw. */
function attempt(frame: Uint8Array, dict: Uint8Array, size: number): Uint8Array | string {
  try {
    return zstdDecompress(frame, dict, size);
  } catch (error) {
    return (error as Error).message;
  }
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

function expectBytes(actual: Uint8Array | null, expected: Uint8Array) {
  expect(actual).toBeInstanceOf(Uint8Array);
  const bytes = actual as Uint8Array;
  expect(bytes.length).toBe(expected.length);
  if (!same(bytes, expected)) {
    const at = bytes.findIndex((v, i) => v !== expected[i]);
    expect.fail(`bytes differ from offset ${at} of ${expected.length}`);
  }
}

/** Code-like text: lines of words from a vocabulary, skewed so some repeat often (compressible). */
function text(seed: number, size: number): Uint8Array {
  const r = rng(seed);
  const vocabulary = Array.from({ length: 400 }, () => Math.floor(r() * 2 ** 32).toString(36));
  const out = new Uint8Array(size);
  let n = 0;
  while (n < size) {
    const word = `${vocabulary[Math.floor(r() ** 3 * vocabulary.length)]}${r() < 0.1 ? ";\n" : " "}`;
    for (let i = 0; i < word.length && n < size; i++) out[n++] = word.charCodeAt(i);
  }
  return out;
}

/** Incompressible bytes. */
function noise(seed: number, size: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: size }, () => Math.floor(r() * 256));
}

/** `base` with `count` small edits (a byte replaced, a few bytes inserted or removed). */
function edited(seed: number, base: Uint8Array, count: number): Uint8Array {
  const r = rng(seed);
  let out = base;
  for (let k = 0; k < count; k++) {
    const at = Math.floor(r() * out.length);
    const kind = Math.floor(r() * 3);
    const next = new Uint8Array(out.length + (kind === 1 ? 3 : kind === 2 ? -Math.min(3, out.length - at) : 0));
    next.set(out.subarray(0, at));
    if (kind === 0) {
      next.set(out.subarray(at), at);
      next[at] = 0x40 + Math.floor(r() * 26);
    } else if (kind === 1) {
      next.set([0x5b, 0x5d, 0x3b], at);
      next.set(out.subarray(at), at + 3);
    } else next.set(out.subarray(at + 3), at);
    out = next;
  }
  return out;
}

const concat = (...parts: Uint8Array[]) => concatBytes(parts);

/** Where a frame's header fields are (zstd format, section "Frame_Header"). */
function header(frame: Uint8Array) {
  const flags = frame[4] as number;
  const singleSegment = (flags >> 5) & 1;
  const fcsField = flags >> 6;
  const dictIdBytes = [0, 1, 2, 4][flags & 3] as number;
  const fcsBytes = fcsField ? 1 << fcsField : singleSegment;
  const dictIdAt = 6 - singleSegment;
  return {
    flags,
    singleSegment,
    dictIdAt,
    fcsAt: dictIdAt + dictIdBytes,
    fcsBytes,
    end: dictIdAt + dictIdBytes + fcsBytes,
  };
}

/** The frame with a Dictionary_ID field of `bytes` bytes holding `id`. */
function withDictId(frame: Uint8Array, id: number, bytes: 1 | 2 | 4): Uint8Array {
  const h = header(frame);
  expect(h.flags & 3).toBe(0);
  const field = Uint8Array.from({ length: bytes }, (_, i) => (id >>> (8 * i)) & 0xff);
  const out = concat(frame.subarray(0, h.dictIdAt), field, frame.subarray(h.dictIdAt));
  out[4] = h.flags | (bytes === 4 ? 3 : bytes);
  return out;
}

/** The frame without its Frame_Content_Size field (a 128 KiB window instead of single segment). */
function withoutContentSize(frame: Uint8Array): Uint8Array {
  const h = header(frame);
  const window = Uint8Array.of(h.singleSegment ? 7 << 3 : (frame[5] as number));
  const out = concat(frame.subarray(0, 5), window, frame.subarray(h.dictIdAt, h.fcsAt), frame.subarray(h.end));
  out[4] = h.flags & 0x1f;
  return out;
}

// XXH64 (seed 0) with BigInt: an independent reference for the checksum the decoder verifies.
const M64 = (1n << 64n) - 1n;
const X1 = 0x9e3779b185ebca87n;
const X2 = 0xc2b2ae3d27d4eb4fn;
const X3 = 0x165667b19e3779f9n;
const X4 = 0x85ebca77c2b2ae63n;
const X5 = 0x27d4eb2f165667c5n;
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M64;
const xround = (acc: bigint, input: bigint) => (rotl((acc + input * X2) & M64, 31n) * X1) & M64;
function xxh64(d: Uint8Array): bigint {
  const view = new DataView(d.buffer, d.byteOffset, d.length);
  let p = 0;
  let h: bigint;
  if (d.length >= 32) {
    const v = [(X1 + X2) & M64, X2, 0n, -X1 & M64];
    for (; p + 32 <= d.length; p += 32) {
      for (let i = 0; i < 4; i++) v[i] = xround(v[i] as bigint, view.getBigUint64(p + 8 * i, true));
    }
    const [v1, v2, v3, v4] = v as [bigint, bigint, bigint, bigint];
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    for (const x of v) h = (((h ^ xround(0n, x)) * X1) & M64) + (X4 & M64);
  } else h = X5;
  h = (h + BigInt(d.length)) & M64;
  for (; p + 8 <= d.length; p += 8) h = (rotl(h ^ xround(0n, view.getBigUint64(p, true)), 27n) * X1 + X4) & M64;
  if (p + 4 <= d.length) {
    h = (rotl(h ^ ((BigInt(view.getUint32(p, true)) * X1) & M64), 23n) * X2 + X3) & M64;
    p += 4;
  }
  for (; p < d.length; p++) h = (rotl(h ^ ((BigInt(d[p] as number) * X5) & M64), 11n) * X1) & M64;
  h = ((h ^ (h >> 33n)) * X2) & M64;
  h = ((h ^ (h >> 29n)) * X3) & M64;
  return h ^ (h >> 32n);
}

/** The frame with its Content_Checksum flag set and the checksum of `content` appended. */
function withChecksum(frame: Uint8Array, content: Uint8Array): Uint8Array {
  expect((frame[4] as number) & 4).toBe(0);
  const sum = Number(xxh64(content) & 0xffffffffn);
  const out = concat(frame, Uint8Array.from([sum, sum >>> 8, sum >>> 16, sum >>> 24]));
  out[4] = (out[4] as number) | 4;
  return out;
}

/** Positions to damage: every one of the first and last 64 bytes, about `spread` in between. */
function positions(length: number, spread: number): number[] {
  const out: number[] = [];
  const step = Math.max(1, Math.floor(length / spread));
  for (let p = 0; p < length; p += p < 64 || p >= length - 64 ? 1 : step) out.push(p);
  return out;
}

describe("zstdDecompress", () => {
  it("decodes frames made without a dictionary, as the npm fzstd it was copied from does", () => {
    const unrelated = text(99, 64 * KB);
    for (const level of [1, 3, 19]) {
      for (const size of [0, 1, 2, 7, 100, 1000, 65536, 131071, 131072, 131073, 400_000]) {
        for (const data of [text(size + level, size), noise(size + level, size)]) {
          const frame = zstd(data, none, level);
          expectBytes(zstdDecompress(frame, none, size), data);
          expectBytes(fzstdDecompress(frame), data);
          // a dictionary the frame does not use changes nothing
          expectBytes(zstdDecompress(frame, unrelated, size), data);
        }
      }
    }
  });

  it("agrees with the unpatched npm fzstd on frames without a dictionary", () => {
    const r = rng(2024);
    for (let k = 0; k < 40; k++) {
      // mostly small frames, and two of 2 MB
      const size = k < 2 ? 2 * MB : Math.floor(r() ** 3 * MB);
      const kind = r();
      const data =
        kind < 0.6
          ? text(k, size)
          : kind < 0.8
            ? noise(k, size)
            : concat(text(k, size >> 1), noise(k, size - (size >> 1)));
      const frame = zstd(data, none, [1, 3, 9, 19][k % 4] as number);
      const ours = zstdDecompress(frame, none, size);
      expectBytes(ours, fzstdDecompress(frame));
      expectBytes(ours, data);
    }
  });

  it("uses a raw-content dictionary whose bytes the data reuses (which the npm fzstd decodes wrong)", () => {
    const dict = text(1, 256 * KB);
    const data = edited(2, dict, 40);
    for (const level of [3, 19]) {
      const frame = zstd(data, dict, level);
      const alone = zstd(data, none, level);
      expect(frame.length * 20).toBeLessThan(alone.length);
      expectBytes(zstdDecompress(frame, dict, data.length), data);
      // without its dictionary the frame cannot be decoded ...
      expect(() => zstdDecompress(frame, none, data.length)).toThrow(/too far back/);
      // ... which fzstd does not notice: it throws or returns other bytes
      let fz: Uint8Array | null = null;
      try {
        fz = fzstdDecompress(frame);
      } catch {}
      expect(fz === null || !same(fz, data)).toBe(true);
    }
  });

  it("decodes 0 bytes to 3 MB with dictionaries up to 2 MB, at levels 3 and 19", () => {
    const big = text(7, 2 * MB);
    const slice = (i: number) => big.subarray((i * 40_000) % (2 * MB - 64 * KB)).subarray(0, 64 * KB);
    // (level 19 takes the reference zstd about 0.6 s per frame just to load a 2 MB dictionary)
    const cases: [Uint8Array, Uint8Array, number[]][] = [
      [none, big, [3, 19]],
      [text(8, 1), big, [3]],
      [big.subarray(MB, MB + 100), big, [3]],
      [edited(9, big, 200), big, [3, 19]],
      // the first and the last bytes of the dictionary, as far back and as near as matches go
      [concat(big.subarray(0, 5000), text(10, 3000), big.subarray(2 * MB - 5000), big.subarray(0, 5000)), big, [3]],
      // 3 MB: dictionary slices at every distance, between new text
      [concat(...Array.from({ length: 48 }, (_, i) => (i % 2 ? text(100 + i, 64 * KB) : slice(i)))), big, [3, 19]],
      [none, none, [3, 19]],
      [text(11, 5000), text(12, 1), [3, 19]],
    ];
    for (const [data, dict, levels] of cases) {
      for (const level of levels) {
        const frame = zstd(data, dict, level);
        expectBytes(zstdDecompress(frame, dict, data.length), data);
      }
    }
  });

  it("decodes incompressible data and incompressible dictionaries", () => {
    const dict = noise(20, 512 * KB);
    const cases = [
      noise(21, 300 * KB),
      concat(noise(22, 1000), dict.subarray(400 * KB, 500 * KB), noise(23, 1000), dict.subarray(0, 50 * KB)),
      edited(24, dict, 10),
    ];
    for (const data of cases) {
      for (const level of [3, 19]) {
        const frame = zstd(data, dict, level);
        expectBytes(zstdDecompress(frame, dict, data.length), data);
        expectBytes(reference(frame, dict), data);
      }
    }
  });

  it("verifies the content checksum when the frame has one", () => {
    // Anchors: XXH64 of nothing, and a frame from the zstd 1.5.4 command line with its checksum
    // (`zstd -19 --check -D dict`, dictionary and content made as below).
    expect(xxh64(none)).toBe(0xef46db3751d8e999n);
    const cliDict = Buffer.from(
      Array.from({ length: 150 }, (_, i) => `export const item${i} = ${(i * 104729) % 1000};\n`).join(""),
    );
    const cliContent = Buffer.from(
      Array.from({ length: 120 }, (_, i) => `export const item${i} = ${(i * 7919) % 1000};\n`).join(""),
    );
    const cliFrame = Buffer.from(
      "28b52ffd64a10bfd050032cd1a0dd0e5004ccaae8894bb17d4350240cc434a83c93e49eaabcc587cebf988ca9c48181a9315bf7e6acd" +
        "56bb74a6c1649f24451e652cbef57c54f4ea44c2d098ac389c6eaad96a97ce70adde27499147910924b69e8f8a5e9d4d4ac664c5e1" +
        "74134bc22e9de15abdfba1d50876a820cc07b0db3b12f87f1360ddfe8c01eaa7883aeff40782a014f61ba6e31e2de207e86b14a77e" +
        "176158fa134189909456258661d8eb1fc535d41f4cb860175413b6e8da0fa804000102388062bf36950e3259f1",
      "hex",
    );
    expectBytes(zstdDecompress(cliFrame, cliDict, cliContent.length), cliContent);
    expect(cliFrame.readUInt32LE(cliFrame.length - 4)).toBe(Number(xxh64(cliContent) & 0xffffffffn));
    const badSum = Uint8Array.from(cliFrame);
    badSum[badSum.length - 1] = (badSum[badSum.length - 1] as number) ^ 1;
    expect(() => zstdDecompress(badSum, cliDict, cliContent.length)).toThrow(/checksum/);

    // every length around XXH64's 32-, 8- and 4-byte steps, and large ones
    const dict = text(30, 100 * KB);
    const wrong = text(31, 100 * KB);
    const sizes = [...Array.from({ length: 70 }, (_, i) => i), 100, 1000, 4099, 4100, 131_075, 131_076, 2 * MB + 13];
    let caught = 0;
    for (const size of sizes) {
      const data = size % 2 ? noise(size, size) : edited(size, dict.subarray(0, size), 3);
      const plain = zstd(data, dict, 3);
      const frame = withChecksum(plain, data);
      expectBytes(zstdDecompress(frame, dict, data.length), data);
      expectBytes(reference(frame, dict), data);
      // the wrong dictionary decodes to bytes of the right length: only the checksum tells
      const mistaken = zstdDecompress(plain, wrong, data.length);
      expect(mistaken).toHaveLength(data.length);
      if (!same(mistaken, data)) {
        expect(() => zstdDecompress(frame, wrong, data.length)).toThrow(/checksum mismatch/);
        caught++;
      }
    }
    expect(caught).toBeGreaterThan(20);
  });

  it("throws on every truncation of a frame", () => {
    const dict = text(40, 50 * KB);
    const data = concat(edited(41, dict, 30), text(42, 200 * KB), noise(43, 5 * KB));
    const plain = zstd(data, dict, 19);
    for (const frame of [plain, withChecksum(plain, data)]) {
      expectBytes(zstdDecompress(frame, dict, data.length), data);
      for (const cut of positions(frame.length, 800)) {
        expect(() => zstdDecompress(frame.subarray(0, cut), dict, data.length)).toThrow(/^zstd: /);
      }
    }
  });

  it("throws on bytes after the frame, several frames and skippable frames", () => {
    const dict = text(50, 20 * KB);
    const data = edited(51, dict, 5);
    const frame = zstd(data, dict, 3);
    const skippable = Uint8Array.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    const size = data.length;
    expectBytes(zstdDecompress(frame, dict, size), data);
    for (const extra of [[0], [0, 0, 0, 0], [0x28, 0xb5, 0x2f, 0xfd], Array.from(noise(52, 10))]) {
      expect(() => zstdDecompress(concat(frame, Uint8Array.from(extra)), dict, size)).toThrow(/after the frame/);
    }
    expect(() => zstdDecompress(concat(frame, frame), dict, size)).toThrow(/after the frame/);
    expect(() => zstdDecompress(concat(frame, frame), dict, 2 * size)).toThrow(/frame content size/);
    expect(() => zstdDecompress(concat(frame, skippable), dict, size)).toThrow(/after the frame/);
    expect(() => zstdDecompress(skippable, dict, 0)).toThrow(/skippable/);
    expect(() => zstdDecompress(concat(skippable, frame), dict, size)).toThrow(/skippable/);
    const otherMagic = Uint8Array.from(skippable);
    otherMagic[0] = 0x5f;
    expect(() => zstdDecompress(concat(otherMagic, frame), dict, size)).toThrow(/skippable/);
    for (const bytes of [[], [0x28], [0x28, 0xb5, 0x2f], [0x28, 0xb5, 0x2f, 0xfd], [0x28, 0xb5, 0x2f, 0xfd, 0x20, 0]]) {
      expect(() => zstdDecompress(Uint8Array.from(bytes), none, 0)).toThrow(/^zstd: /);
    }
    expect(() => zstdDecompress(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), none, 0)).toThrow(/not a zstd frame/);
  });

  it("throws on a frame that names a dictionary id (id 0 is no dictionary)", () => {
    const dict = text(60, 20 * KB);
    const data = edited(61, dict, 5);
    const frame = zstd(data, dict, 19);
    for (const bytes of [1, 2, 4] as const) {
      for (const id of [1, 0x80, 0xffff, 0x12345678]) {
        expect(() => zstdDecompress(withDictId(frame, id, bytes), dict, data.length)).toThrow(/dictionary id/);
      }
      expectBytes(zstdDecompress(withDictId(frame, 0, bytes), dict, data.length), data);
    }
  });

  it("throws when the frame's content size or decoded length is not `size`", () => {
    const dict = text(70, 20 * KB);
    for (const data of [edited(71, dict, 5), text(72, 300 * KB), noise(73, 1000), none]) {
      const frame = zstd(data, dict, 3);
      const loose = withoutContentSize(frame);
      expectBytes(zstdDecompress(loose, dict, data.length), data);
      for (const size of [data.length + 1, data.length - 1, data.length + 131072, 0, 1].filter(
        (s) => s >= 0 && s !== data.length,
      )) {
        expect(() => zstdDecompress(frame, dict, size)).toThrow(/frame content size differs/);
        // without the field, decoding finds out: no bytes past `size` are written or returned
        expect(() => zstdDecompress(loose, dict, size)).toThrow(/content (longer|shorter) than size|corrupt/);
      }
    }
    for (const size of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => zstdDecompress(zstd(none, none, 3), none, size)).toThrow(/invalid size/);
    }
  });

  it("never returns bytes of another length from a damaged frame, and returns only what zstd returns", () => {
    const dict = text(80, 30 * KB);
    const small = edited(81, dict.subarray(0, 4000), 8);
    const large = concat(edited(82, dict, 20), text(83, 40 * KB), noise(84, 2000));
    const outcomes = { threw: 0, returned: 0 };
    for (const [data, level, spread, masks] of [
      [small, 19, 10_000, [1, 2, 4, 8, 16, 32, 64, 128, 0xff]],
      [large, 3, 400, [1, 0x80, 0xff]],
      [large, 19, 400, [1, 0x10, 0xff]],
    ] as const) {
      const frame = zstd(data, dict, level);
      const checked = withChecksum(frame, data);
      for (const at of positions(frame.length, spread)) {
        for (const mask of masks) {
          const damaged = frame.slice();
          damaged[at] = (damaged[at] as number) ^ mask;
          const result = attempt(damaged, dict, data.length);
          if (typeof result === "string") {
            expect(result).toMatch(/^zstd: /);
            outcomes.threw++;
            continue;
          }
          outcomes.returned++;
          expect(result).toHaveLength(data.length);
          const ref = reference(damaged, dict);
          expect(ref, `zstd refuses what was returned (byte ${at} ^ ${mask})`).not.toBeNull();
          expectBytes(result, ref as Uint8Array);
          // with a checksum, damage that decodes must still give the original, or throw
          const damagedChecked = checked.slice();
          damagedChecked[at] = (damagedChecked[at] as number) ^ mask;
          const verified = attempt(damagedChecked, dict, data.length);
          if (typeof verified !== "string") expectBytes(verified, data);
        }
      }
    }
    expect(outcomes.threw).toBeGreaterThan(1000);
    expect(outcomes.returned).toBeGreaterThan(1000);
  });

  it("never hangs or misbehaves on random bytes behind a valid frame header", () => {
    const r = rng(90);
    const dict = text(91, 10 * KB);
    const data = edited(92, dict, 3);
    const frame = zstd(data, dict, 19);
    const start = frame.subarray(0, header(frame).end);
    for (let k = 0; k < 3000; k++) {
      const body = noise(1000 + k, 3 + Math.floor(r() * 300));
      // half of them as one compressed last block, so the block decoder reads the noise
      const blockHeader = (body.length << 3) | (2 << 1) | 1;
      const block = Uint8Array.from([blockHeader, blockHeader >> 8, blockHeader >> 16]);
      const garbage = k % 2 ? concat(start, body) : concat(start, block, body);
      const result = attempt(garbage, dict, data.length);
      if (typeof result === "string") expect(result).toMatch(/^zstd: /);
      else expect(result).toHaveLength(data.length);
    }
  });
});
