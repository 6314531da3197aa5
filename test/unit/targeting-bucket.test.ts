import { describe, expect, it } from "vitest";
import {
  BUCKET_VERSION,
  bucketFor,
  bucketKeyFromBytes,
  bucketKeyFromHex,
  createBucketer,
  inPercentage,
  rampPercentage,
  sipHash24Hex,
  validateRamp,
} from "../../src/domain/targeting/bucket";

const KEY_HEX = "000102030405060708090a0b0c0d0e0f";
const KEY_BYTES = Uint8Array.from({ length: 16 }, (_, i) => i);
const key = bucketKeyFromHex(KEY_HEX) ?? expect.unreachable("valid key");
const devices = Array.from({ length: 100_000 }, (_, i) => `dev-${i.toString(36)}-${(i * 7919) % 100_003}`);

describe("SipHash-2-4", () => {
  // Reference outputs from the SipHash paper's vectors.h (key 00..0f, message 00..len-1), as u64.
  it.each([
    [0, "726fdb47dd0e0e31"],
    [1, "74f839c593dc67fd"],
    [8, "93f5f5799a932462"],
    [15, "a129ca6149be45e5"],
    [63, "958a324ceb064572"],
  ])("matches the reference output for a %i-byte message", (len, hex) => {
    expect(
      sipHash24Hex(
        KEY_BYTES,
        Uint8Array.from({ length: len }, (_, i) => i),
      ),
    ).toBe(hex);
  });

  it("rejects keys that are not 128 bits", () => {
    expect(bucketKeyFromBytes(new Uint8Array(15))).toBeNull();
    expect(bucketKeyFromHex("00")).toBeNull();
    expect(bucketKeyFromHex("zz0102030405060708090a0b0c0d0e0f")).toBeNull();
  });
});

describe("bucketFor", () => {
  /** The documented version-1 message layout, hashed in one go and reduced with BigInt. */
  function reference(salt: string, stickyKey: string): number {
    const s = new TextEncoder().encode(salt);
    const k = new TextEncoder().encode(stickyKey);
    const prefixLen = Math.ceil((5 + s.length) / 8) * 8;
    const msg = new Uint8Array(prefixLen + k.length);
    msg[0] = BUCKET_VERSION;
    new DataView(msg.buffer).setUint32(1, s.length, true);
    msg.set(s, 5);
    msg.set(k, prefixLen);
    return Number(BigInt(`0x${sipHash24Hex(KEY_BYTES, msg)}`) % 10000n);
  }

  it.each([
    ["rel_01", "dev-1", 465],
    ["rel_01", "dev-2", 4204],
    ["rel_02", "dev-1", 4792],
    ["", "", 1350],
    ["rel_01", "用户-😀", 8297],
    ["a-much-longer-release-salt-0123456789", "6f1c2a9e-1234-4b1e-9c3d-5a7e8f9b0c1d", 6200],
  ])("is pinned for version 1: (%s, %s) → %i", (salt, id, bucket) => {
    expect(bucketFor(key, salt, id)).toBe(bucket);
    expect(reference(salt, id)).toBe(bucket);
  });

  it("follows the documented message layout for many salts and keys", () => {
    for (let i = 0; i < 300; i++) {
      const salt = "s".repeat(i % 23) + i;
      const id = `${"é".repeat(i % 5)}id-${i}-${"x".repeat(i % 17)}`;
      expect(bucketFor(key, salt, id)).toBe(reference(salt, id));
    }
  });

  it("encodes lone surrogates as U+FFFD, like TextEncoder", () => {
    expect(bucketFor(key, "rel", "a\ud800b")).toBe(bucketFor(key, "rel", "a\ufffdb"));
    expect(bucketFor(key, "rel", "a\ud800b")).toBe(reference("rel", "a\ud800b"));
  });

  it("handles sticky keys longer than the scratch buffer", () => {
    const long = "k".repeat(5000);
    expect(bucketFor(key, "rel", long)).toBe(reference("rel", long));
  });

  it("is deterministic and the same through createBucketer and bucketFor", () => {
    const b = createBucketer(key, "rel_det");
    createBucketer(key, "another release in between");
    for (const id of devices.slice(0, 1000)) {
      const bucket = b(id);
      expect(bucket).toBe(b(id));
      expect(bucket).toBe(bucketFor(key, "rel_det", id));
      expect(Number.isInteger(bucket) && bucket >= 0 && bucket < 10000).toBe(true);
    }
  });
});

describe("percentage properties over 100,000 synthetic devices", () => {
  const bucketsA = devices.map(createBucketer(key, "rel_A"));
  const bucketsB = devices.map(createBucketer(key, "rel_B"));

  it("puts 10 ± 0.5 % of devices in at 1000 basis points", () => {
    const share = bucketsA.filter((b) => inPercentage(b, 1000)).length / devices.length;
    expect(share).toBeGreaterThan(0.095);
    expect(share).toBeLessThan(0.105);
  });

  it("spreads devices evenly over deciles", () => {
    const deciles = new Array<number>(10).fill(0);
    for (const b of bucketsA) deciles[Math.floor(b / 1000)] = (deciles[Math.floor(b / 1000)] ?? 0) + 1;
    for (const n of deciles) expect(Math.abs(n / devices.length - 0.1)).toBeLessThan(0.005);
  });

  it("only adds devices when the percentage is raised from 10 % to 20 %", () => {
    const at10 = bucketsA.filter((b) => inPercentage(b, 1000)).length;
    let kept = 0;
    for (const b of bucketsA) if (inPercentage(b, 1000) && inPercentage(b, 2000)) kept++;
    expect(kept).toBe(at10);
    const share = bucketsA.filter((b) => inPercentage(b, 2000)).length / devices.length;
    expect(share).toBeGreaterThan(0.195);
    expect(share).toBeLessThan(0.205);
  });

  it("gives independent populations for different salts and different keys", () => {
    const inA = bucketsA.map((b) => inPercentage(b, 1000));
    const inB = bucketsB.map((b) => inPercentage(b, 1000));
    const both = inA.filter((x, i) => x && inB[i]).length / devices.length;
    // Independent 10 % samples overlap on about 1 %; the same population would overlap on 10 %.
    expect(both).toBeGreaterThan(0.005);
    expect(both).toBeLessThan(0.015);
    const otherKey = bucketKeyFromHex("f0e0d0c0b0a090807060504030201000") ?? expect.unreachable("valid key");
    const bucketsK = devices.map(createBucketer(otherKey, "rel_A"));
    const same = bucketsK.filter((b, i) => b === bucketsA[i]).length / devices.length;
    expect(same).toBeLessThan(0.001);
  });

  it("admits nobody at 0 and everybody at 10000 (half-open)", () => {
    expect(bucketsA.some((b) => inPercentage(b, 0))).toBe(false);
    expect(bucketsA.every((b) => inPercentage(b, 10000))).toBe(true);
    expect(inPercentage(999, 1000)).toBe(true);
    expect(inPercentage(1000, 1000)).toBe(false);
  });
});

describe("phased ramp", () => {
  const day = 86_400_000;
  const t0 = 1_767_225_600_000;
  const steps = [1, 2, 5, 10, 20, 50, 100].map((pct, i) => ({ at: t0 + i * day, basisPoints: pct * 100 }));

  it("is monotonic in time and only adds devices", () => {
    const valid = validateRamp(steps, 0);
    expect(valid.ok).toBe(true);
    let previous = -1;
    for (let now = t0 - day; now < t0 + 9 * day; now += 3_600_000) {
      const bp = rampPercentage(steps, now, 0);
      expect(bp).toBeGreaterThanOrEqual(previous);
      previous = bp;
    }
    const b = createBucketer(key, "rel_ramp");
    for (const id of devices.slice(0, 5000)) {
      const bucket = b(id);
      let wasIn = false;
      for (let now = t0 - day; now < t0 + 8 * day; now += 6 * 3_600_000) {
        const isIn = inPercentage(bucket, rampPercentage(steps, now, 0));
        if (wasIn) expect(isIn).toBe(true);
        wasIn = isIn;
      }
    }
  });

  it.each([
    [0, t0 - 1, 0],
    [50, t0 - 1, 50],
    [0, t0, 100],
    [0, t0 + day - 1, 100],
    [0, t0 + day, 200],
    [0, t0 + 100 * day, 10000],
  ])("base %i at %i gives %i basis points", (base, now, expected) => {
    expect(rampPercentage(steps, now, base)).toBe(expected);
  });

  it.each([
    ["not an array", { steps: 1 }, ""],
    ["empty", [], ""],
    [
      "unsorted times",
      [
        { at: 2, basisPoints: 1 },
        { at: 1, basisPoints: 2 },
      ],
      "/1/at",
    ],
    [
      "equal times",
      [
        { at: 1, basisPoints: 1 },
        { at: 1, basisPoints: 2 },
      ],
      "/1/at",
    ],
    [
      "decreasing percentage",
      [
        { at: 1, basisPoints: 5 },
        { at: 2, basisPoints: 4 },
      ],
      "/1/basisPoints",
    ],
    ["above 10000", [{ at: 1, basisPoints: 10001 }], "/0/basisPoints"],
    ["fractional", [{ at: 1, basisPoints: 1.5 }], "/0/basisPoints"],
    ["negative time", [{ at: -1, basisPoints: 1 }], "/0/at"],
    ["unknown field", [{ at: 1, basisPoints: 1, pct: 1 }], "/0"],
    ["not an object", [7], "/0"],
  ])("rejects %s", (_name, input, pointer) => {
    const result = validateRamp(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.pointer)).toContain(pointer);
  });

  it("rejects a first step below the base percentage", () => {
    const result = validateRamp([{ at: 1, basisPoints: 100 }], 200);
    expect(result).toEqual({
      ok: false,
      errors: [{ pointer: "/0/basisPoints", message: "must not be below the previous percentage" }],
    });
  });
});
