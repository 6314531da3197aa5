import { describe, expect, it } from "vitest";
import { HLL_DEFAULT_PRECISION, HyperLogLog, hllStandardError } from "../../src/domain/stats/hll";
import { sipHash24Hex } from "../../src/domain/targeting/bucket";

/** mulberry32: a seeded uint32 generator, so every run sees the same "random" hashes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `n` synthetic 64-bit hashes as (hi, lo) halves. */
function hashes(n: number, seed: number): { hi: Uint32Array; lo: Uint32Array } {
  const next = prng(seed);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    hi[i] = next();
    lo[i] = next();
  }
  return { hi, lo };
}

function sketchOf(h: { hi: Uint32Array; lo: Uint32Array }, from = 0, to = h.hi.length, p = 14): HyperLogLog {
  const s = new HyperLogLog(p);
  for (let i = from; i < to; i++) s.add(h.hi[i] as number, h.lo[i] as number);
  return s;
}

const SIGMA = hllStandardError();

describe("HyperLogLog", () => {
  it("defaults to 16,384 registers with a standard error of 0.81 %", () => {
    const s = new HyperLogLog();
    expect(s.precision).toBe(HLL_DEFAULT_PRECISION);
    expect(s.registers.length).toBe(16_384);
    expect(SIGMA).toBeCloseTo(0.008125, 6);
    expect(hllStandardError(12)).toBeCloseTo(0.01625, 6);
  });

  it("accepts precisions 4 to 16 only", () => {
    expect(new HyperLogLog(4).registers.length).toBe(16);
    expect(new HyperLogLog(16).registers.length).toBe(65_536);
    for (const p of [3, 17, 14.5, Number.NaN]) expect(() => new HyperLogLog(p)).toThrow(RangeError);
  });

  it.each([0, 1, 10])("counts %i distinct hashes exactly (rounded)", (n) => {
    const s = sketchOf(hashes(n, 7));
    expect(Math.abs(s.estimate() - n)).toBeLessThan(0.5);
    expect(Math.round(s.estimate())).toBe(n);
  });

  it.each([1_000, 10_000, 100_000, 1_000_000])("estimates %i distinct hashes within 3 standard errors", (n) => {
    const estimate = sketchOf(hashes(n, n)).estimate();
    expect(Math.abs(estimate - n) / n).toBeLessThanOrEqual(3 * SIGMA);
  });

  it("is as accurate at other precisions (p = 12, 100,000 hashes)", () => {
    const estimate = sketchOf(hashes(100_000, 12), 0, 100_000, 12).estimate();
    expect(Math.abs(estimate - 100_000) / 100_000).toBeLessThanOrEqual(3 * hllStandardError(12));
  });

  it("does not change for hashes it has already seen", () => {
    const h = hashes(5_000, 3);
    const s = sketchOf(h);
    const registers = s.registers.slice();
    const estimate = s.estimate();
    for (let i = 0; i < h.hi.length; i++) expect(s.add(h.hi[i] as number, h.lo[i] as number)).toBe(false);
    expect(s.registers).toEqual(registers);
    expect(s.estimate()).toBe(estimate);
  });

  it("ranks from the bits below the index, up to 65 − p for an all-zero remainder", () => {
    const s = new HyperLogLog(14);
    expect(s.add(0, 0)).toBe(true);
    expect(s.registers[0]).toBe(51);
    s.add(0xffffffff, 0); // index 16,383; first remainder bit set → rank 1
    expect(s.registers[16_383]).toBe(1);
    s.add(0x00000001, 0); // index 0, remainder 0…01 in hi → 17 leading zeros
    expect(s.registers[0]).toBe(51);
    const t = new HyperLogLog(14);
    t.add(0x00000001, 0);
    expect(t.registers[0]).toBe(18);
    t.add(0, 0x80000000); // the remainder's first 18 bits are hi's; lo's first bit set → rank 19
    expect(t.registers[0]).toBe(19);
    t.add(-1, -1); // int32 halves are read as uint32
    expect(t.registers[16_383]).toBe(1);
  });

  it("merges into exactly the sketch of the union", () => {
    const h = hashes(100_000, 11);
    const a = sketchOf(h, 0, 60_000);
    const b = sketchOf(h, 40_000, 100_000);
    const union = sketchOf(h);
    expect(a.merge(b).registers).toEqual(union.registers);
    expect(a.estimate()).toBe(union.estimate());
    expect(Math.abs(a.estimate() - 100_000) / 100_000).toBeLessThanOrEqual(3 * SIGMA);
    expect(() => a.merge(new HyperLogLog(12))).toThrow(/precisions/);
  });

  it("adds SipHash hex hashes of device ids (2,000 devices within 3 standard errors)", () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const s = new HyperLogLog();
    for (let i = 0; i < 2_000; i++) {
      const hex = sipHash24Hex(key, new TextEncoder().encode(`device-${i}`)) ?? expect.unreachable("16-byte key");
      s.addHex(hex);
    }
    expect(Math.abs(s.estimate() - 2_000)).toBeLessThanOrEqual(3 * SIGMA * 2_000);
    const t = new HyperLogLog();
    t.addHex("00000001ABCDEF00");
    const u = new HyperLogLog();
    u.add(0x00000001, 0xabcdef00);
    expect(t.registers).toEqual(u.registers);
    for (const bad of ["", "0123", "0123456789abcdeg", "0123456789abcdef0", " 123456789abcdef"]) {
      expect(() => new HyperLogLog().addHex(bad)).toThrow(/16 hex digits/);
    }
  });
});

describe("HyperLogLog serialization", () => {
  const roundTrip = (s: HyperLogLog) => {
    const bytes = s.serialize();
    const back = HyperLogLog.deserialize(bytes);
    expect(back.precision).toBe(s.precision);
    expect(back.registers).toEqual(s.registers);
    expect(back.estimate()).toBe(s.estimate());
    return bytes;
  };

  it("writes few registers sparse: 3 bytes each", () => {
    expect(roundTrip(new HyperLogLog())).toEqual(Uint8Array.of(2, 14));
    const s = sketchOf(hashes(300, 5));
    const used = s.registers.filter((r) => r !== 0).length;
    const bytes = roundTrip(s);
    expect(bytes[0]).toBe(2);
    expect(bytes.length).toBe(2 + 3 * used);
  });

  it("writes many registers dense: 6 bits each", () => {
    const bytes = roundTrip(sketchOf(hashes(100_000, 6)));
    expect(bytes[0]).toBe(1);
    expect(bytes.length).toBe(2 + 12_288);
    // Full-rank registers survive the 6-bit packing.
    const full = new HyperLogLog(4);
    for (let i = 0; i < 16; i++) full.add(i << 28, 0);
    expect(full.registers.every((r) => r === 61)).toBe(true);
    expect(roundTrip(full)[0]).toBe(1);
  });

  it.each([4, 10, 16])("round-trips at precision %i", (p) => {
    const h = hashes(5_000, p);
    roundTrip(sketchOf(h, 0, 20, p));
    roundTrip(sketchOf(h, 0, 5_000, p));
  });

  /** A sparse serialization of (index, rank) entries, as given. */
  const sparse = (p: number, ...entries: [number, number][]) =>
    Uint8Array.from([
      2,
      p,
      ...entries.flatMap(([index, rank]) => {
        const word = (index << 6) | rank;
        return [word >>> 16, (word >>> 8) & 0xff, word & 0xff];
      }),
    ]);

  it("reads a hand-written sparse sketch", () => {
    const s = HyperLogLog.deserialize(sparse(14, [3, 5], [16_383, 51]));
    expect(s.registers[3]).toBe(5);
    expect(s.registers[16_383]).toBe(51);
    expect(s.registers.filter((r) => r !== 0).length).toBe(2);
  });

  it.each<[string, Uint8Array, RegExp]>([
    ["nothing", new Uint8Array(0), /not a serialized sketch/],
    ["a header cut short", Uint8Array.of(2), /not a serialized sketch/],
    ["an unknown form", Uint8Array.of(3, 14), /unknown sketch form/],
    ["precision 3", Uint8Array.of(2, 3), /precision/],
    ["precision 17", Uint8Array.of(2, 17), /precision/],
    ["a dense sketch one byte short", new Uint8Array(2 + 12_287).fill(14, 1, 2).fill(1, 0, 1), /wrong length/],
    ["a dense sketch one byte long", new Uint8Array(2 + 12_289).fill(14, 1, 2).fill(1, 0, 1), /wrong length/],
    ["a dense rank over 65 − p", Uint8Array.of(1, 14, ...new Uint8Array(12_288).fill(0xff)), /rank out of range/],
    ["a sparse entry cut short", Uint8Array.of(2, 14, 0, 1), /wrong length/],
    ["a sparse register out of range", sparse(4, [16, 1]), /register out of range/],
    ["sparse registers out of order", sparse(14, [9, 1], [8, 1]), /increasing order/],
    ["a sparse register twice", sparse(14, [9, 1], [9, 2]), /increasing order/],
    ["a sparse rank 0", sparse(14, [9, 0]), /rank out of range/],
    ["a sparse rank over 65 − p", sparse(14, [9, 52]), /rank out of range/],
  ])("refuses %s", (_, bytes, message) => {
    expect(() => HyperLogLog.deserialize(bytes)).toThrow(message);
  });

  it("refuses what is not bytes", () => {
    expect(() => HyperLogLog.deserialize([2, 14] as unknown as Uint8Array)).toThrow(/not a serialized sketch/);
    expect(() => HyperLogLog.deserialize("AhA=" as unknown as Uint8Array)).toThrow(/not a serialized sketch/);
  });
});
