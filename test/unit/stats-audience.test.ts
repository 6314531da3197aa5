import { describe, expect, it } from "vitest";
import {
  type AudienceEstimate,
  AudienceSample,
  mergeSamples,
  type ReachProbability,
  type SampleHash,
} from "../../src/domain/stats/audience-sample";
import { bucketKeyFromHex, createBucketer, sipHash24Hex } from "../../src/domain/targeting/bucket";

// Issue 16: "an estimate from a sample of at most 10 % lands within ±2 percentage points of the truth
// on a 100,000-device population". Truth uses the real percentage buckets (SipHash under BUCKET_KEY);
// the sample uses an independent keyed hash, and the estimate applies the percentage in expectation.

interface Profile {
  platform: "android" | "ios" | "harmony";
  appVersion: string;
  country: string;
}

const N = 100_000;
const K = 10_000;
const SEEDS = 20;
const T0 = 1_700_000_000_000;
const BUCKET_KEY = bucketKeyFromHex("000102030405060708090a0b0c0d0e0f");
const STATS_KEY = new Uint8Array(16).map((_, i) => 0xa0 + i);

/** mulberry32: a small seeded PRNG in [0, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function pick<T>(r: () => number, weighted: [T, number][]): T {
  let x = r();
  for (const [value, weight] of weighted) {
    x -= weight;
    if (x < 0) return value;
  }
  return (weighted.at(-1) as [T, number])[0];
}

function population(seed: number, n: number): Profile[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => ({
    platform: pick(r, [
      ["android", 0.62],
      ["ios", 0.35],
      ["harmony", 0.03],
    ]),
    appVersion: pick(r, [
      ["3.2.0", 0.45],
      ["3.1.0", 0.3],
      ["3.0.0", 0.15],
      ["2.9.0", 0.1],
    ]),
    country: pick(r, [
      ["CN", 0.7],
      ["SG", 0.1],
      ["US", 0.08],
      ["JP", 0.07],
      ["DE", 0.02],
      ["FR", 0.03],
    ]),
  }));
}

/** lowbias32, a bijection on 32 bits. */
function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A stand-in for the keyed SipHash of device `i` (2 µs each through sipHash24Hex, too slow for 2M
 * devices): keyed by the seed, distinct for distinct i, independent of the attributes and the buckets.
 */
function fastHash(seed: number, i: number): { hi: number; lo: number } {
  const hi = mix32(i ^ mix32(seed * 2 + 1));
  return { hi, lo: mix32(hi ^ mix32(seed * 2 + 2)) };
}

function statsHash(id: string): string {
  return sipHash24Hex(STATS_KEY, new TextEncoder().encode(id)) as string;
}

interface Targeting {
  name: string;
  match: (p: Profile) => boolean;
  basisPoints: number;
}

const TARGETINGS: Targeting[] = [
  { name: "platform ios", match: (p) => p.platform === "ios", basisPoints: 10_000 },
  { name: "30 % of all", match: () => true, basisPoints: 3_000 },
  {
    name: "android, app ≥ 3.1, 25 %",
    match: (p) => p.platform === "android" && p.appVersion >= "3.1",
    basisPoints: 2_500,
  },
  { name: "country DE (≈ 2 %)", match: (p) => p.country === "DE", basisPoints: 10_000 },
];

// "More than today": android 10 % → android 30 % plus every harmony device, on the same release bucket.
const todayMatch = (p: Profile, bp: number) => p.platform === "android" && bp < 1_000;
const proposedMatch = (p: Profile, bp: number) => (p.platform === "android" && bp < 3_000) || p.platform === "harmony";

function reachOf(t: Targeting): ReachProbability<Profile> {
  return (p) => (t.match(p) ? t.basisPoints / 10_000 : 0);
}

interface Trial {
  sampled: number;
  population: number;
  /** Per targeting then the delta: estimate and truth, in devices. */
  results: { estimate: AudienceEstimate; truth: number }[];
}

function trial(seed: number): Trial {
  const devices = population(seed, N);
  const sample = new AudienceSample<Profile>(K);
  for (const [i, d] of devices.entries()) sample.offer(fastHash(seed, i), d, T0 + i);
  const bucket = createBucketer(BUCKET_KEY as NonNullable<typeof BUCKET_KEY>, `rel-${seed}`);
  const truths = TARGETINGS.map(() => 0);
  let truthDelta = 0;
  devices.forEach((d, i) => {
    const bp = bucket(`dev-${seed}-${i}`);
    TARGETINGS.forEach((t, j) => {
      if (t.match(d) && bp < t.basisPoints) truths[j] = (truths[j] ?? 0) + 1;
    });
    truthDelta += Number(proposedMatch(d, bp)) - Number(todayMatch(d, bp));
  });
  const results = TARGETINGS.map((t, j) => ({ estimate: sample.estimate(reachOf(t)), truth: truths[j] ?? 0 }));
  const delta = sample.estimateDelta(
    (p) => (p.platform === "android" ? 0.1 : 0),
    (p) => (p.platform === "android" ? 0.3 : p.platform === "harmony" ? 1 : 0),
  );
  results.push({ estimate: delta, truth: truthDelta });
  return { sampled: sample.size, population: sample.population(), results };
}

function bottomK(hashes: string[], k: number): string[] {
  return [...new Set(hashes)].sort().slice(0, k);
}

function randomHashes(seed: number, n: number): string[] {
  const r = prng(seed);
  const word = () => Math.floor(r() * 2 ** 32);
  return Array.from({ length: n }, () => word().toString(16).padStart(8, "0") + word().toString(16).padStart(8, "0"));
}

describe("audience estimate from a bottom-k sample", () => {
  it(`lands within ±2 pp of the truth on ${N} devices with k = ${K}, over ${SEEDS} seeds`, () => {
    const names = [...TARGETINGS.map((t) => t.name), "more than today"];
    const worst = names.map(() => 0);
    const sumSquares = names.map(() => 0);
    let zSquares = 0;
    let zCount = 0;
    let worstPopulation = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { sampled, population: seen, results } = trial(seed);
      expect(sampled).toBeLessThanOrEqual(N / 10);
      const populationError = Math.abs(seen / N - 1);
      worstPopulation = Math.max(worstPopulation, populationError);
      expect(populationError).toBeLessThanOrEqual(0.05);
      results.forEach(({ estimate, truth }, j) => {
        const pp = Math.abs(estimate.estimate / estimate.population - truth / N);
        expect(pp, `${names[j]}, seed ${seed}`).toBeLessThanOrEqual(0.02);
        worst[j] = Math.max(worst[j] ?? 0, pp);
        sumSquares[j] = (sumSquares[j] ?? 0) + pp * pp;
        // The standard error in devices is honest: errors within 4 σ, and about 1 σ on average.
        const z = (estimate.estimate - truth) / estimate.standardError;
        expect(Math.abs(z), `${names[j]}, seed ${seed}`).toBeLessThanOrEqual(4);
        zSquares += z * z;
        zCount++;
      });
    }
    const zRms = Math.sqrt(zSquares / zCount);
    expect(zRms).toBeGreaterThan(0.5);
    expect(zRms).toBeLessThan(1.5);
    console.info(
      `audience estimate, N=${N} k=${K}, ${SEEDS} seeds: population worst ${(100 * worstPopulation).toFixed(2)} %; ` +
        names
          .map((name, j) => {
            const rms = Math.sqrt((sumSquares[j] ?? 0) / SEEDS);
            return `${name}: worst ${(100 * (worst[j] ?? 0)).toFixed(2)} pp, rms ${(100 * rms).toFixed(2)} pp`;
          })
          .join("; ") +
        `; error/σ rms ${zRms.toFixed(2)}`,
    );
  });

  it("is exact below k: population counted, filters exact, percentages in expectation", () => {
    const devices = population(99, 2_000);
    const sample = new AudienceSample<Profile>(K);
    const ids = devices.map((_, i) => `dev-99-${i}`);
    for (const [i, d] of devices.entries()) sample.offer(statsHash(ids[i] as string), d, T0);
    expect(sample.full).toBe(false);
    expect(sample.threshold()).toBe(1);
    const ios = sample.estimate(reachOf(TARGETINGS[0] as Targeting));
    const iosTruth = devices.filter((d) => d.platform === "ios").length;
    expect(ios).toEqual({ estimate: iosTruth, sampled: 2_000, population: 2_000, standardError: 0 });
    // Half of everyone: the expectation, with the buckets' binomial spread √(n·p(1−p)) as its error.
    const half = sample.estimate(() => 0.5);
    expect(half.estimate).toBe(1_000);
    expect(half.standardError).toBeCloseTo(Math.sqrt(2_000 * 0.25), 9);
    const bucket = createBucketer(BUCKET_KEY as NonNullable<typeof BUCKET_KEY>, "rel-small");
    const truth = ids.filter((id) => bucket(id) < 5_000).length;
    expect(Math.abs(half.estimate - truth)).toBeLessThanOrEqual(4 * half.standardError);
    const delta = sample.estimateDelta(
      (p) => (p.platform === "ios" ? 1 : 0),
      (p) => (p.platform !== "android" ? 1 : 0),
    );
    expect(delta.estimate).toBe(devices.filter((d) => d.platform === "harmony").length);
    expect(delta.current).toBe(iosTruth);
    expect(delta.standardError).toBe(0);
  });

  it("keeps exactly the k smallest hashes, and admits() says which would enter", () => {
    const hashes = randomHashes(5, 5_000);
    const sample = new AudienceSample<number>(100);
    for (const [i, h] of hashes.entries()) sample.offer(h, i, T0 + i);
    const expected = bottomK(hashes, 100);
    expect(sample.entries().map((e) => e.hash)).toEqual(expected);
    const kth = expected[99] as string;
    expect(sample.admits(kth)).toBe(true);
    expect(sample.admits((BigInt(`0x${kth}`) + 1n).toString(16).padStart(16, "0"))).toBe(false);
    expect(sample.threshold()).toBeCloseTo(Number(BigInt(`0x${kth}`) + 1n) / 2 ** 64, 12);
    expect(sample.population()).toBeCloseTo(99 / sample.threshold(), 6);
    // Offering the smallest possible hash evicts the k-th.
    expect(sample.offer("0000000000000000", -1, T0)).toBe(true);
    expect(sample.get(kth)).toBeUndefined();
    expect(sample.size).toBe(100);
  });

  it("updates a re-offered device's profile and seenAt, latest sighting wins", () => {
    const sample = new AudienceSample<string>(3);
    const halves: SampleHash = { hi: 0x0123abcd, lo: 0x00000042 };
    expect(sample.offer(halves, "old", T0)).toBe(true);
    expect(sample.offer("0123ABCD00000042", "new", T0 + 5)).toBe(true);
    expect(sample.size).toBe(1);
    expect(sample.get("0123abcd00000042")).toEqual({ hash: "0123abcd00000042", seenAt: T0 + 5, profile: "new" });
    sample.offer(halves, "stale", T0 + 1);
    expect(sample.get(halves)?.profile).toBe("new");
    sample.offer("ffffffffffffff00", "a", T0);
    sample.offer("ffffffffffffff01", "b", T0);
    // Full: re-offering the largest kept hash still updates it, in place.
    expect(sample.offer("ffffffffffffff01", "b2", T0 + 9)).toBe(true);
    expect(sample.get("ffffffffffffff01")?.profile).toBe("b2");
    expect(sample.offer("ffffffffffffff02", "c", T0)).toBe(false);
    expect(sample.size).toBe(3);
  });

  it("merging equals sampling the union", () => {
    const hashes = randomHashes(7, 30_000);
    const left = new AudienceSample<string>(1_000);
    const right = new AudienceSample<string>(1_000);
    const whole = new AudienceSample<string>(1_000);
    hashes.forEach((h, i) => {
      // Thirds: left only, right only, both (seen again later on the right, with a newer profile).
      if (i % 3 !== 1) left.offer(h, `l${i}`, T0 + i);
      if (i % 3 !== 0) right.offer(h, i % 3 === 2 ? `r${i}` : `l${i}`, T0 + i + (i % 3 === 2 ? 10 : 0));
    });
    hashes.forEach((h, i) => {
      whole.offer(h, `l${i}`, T0 + i);
      if (i % 3 === 2) whole.offer(h, `r${i}`, T0 + i + 10);
    });
    expect(mergeSamples(left, right).serialize()).toEqual(whole.serialize());
    expect(mergeSamples(right, left).serialize()).toEqual(whole.serialize());
    // Different capacities: the smaller one is all the union can vouch for.
    const small = new AudienceSample<string>(500);
    for (const e of right.entries()) small.offer(e.hash, e.profile, e.seenAt);
    const merged = mergeSamples(left, small);
    expect(merged.capacity).toBe(500);
    expect(merged.entries().map((e) => e.hash)).toEqual(bottomK(hashes, 500));
  });

  it("round-trips through its stored form, with or without a profile codec", () => {
    const devices = population(3, 3_000);
    const sample = new AudienceSample<Profile>(1_000);
    for (const [i, d] of devices.entries()) sample.offer(fastHash(3, i), d, T0 + i);
    const stored = JSON.parse(JSON.stringify(sample.serialize()));
    const back = AudienceSample.deserialize<Profile>(stored);
    expect(back?.serialize()).toEqual(sample.serialize());
    const reach = reachOf(TARGETINGS[2] as Targeting);
    expect(back?.estimate(reach)).toEqual(sample.estimate(reach));
    // A compact codec: profiles as tuples.
    const encode = (p: Profile): [string, string, string] => [p.platform, p.appVersion, p.country];
    const decode = (x: unknown): Profile | null =>
      Array.isArray(x) && x.length === 3
        ? { platform: x[0] as Profile["platform"], appVersion: String(x[1]), country: String(x[2]) }
        : null;
    const compact = JSON.parse(JSON.stringify(sample.serialize(encode)));
    expect(AudienceSample.deserialize(compact, decode)?.serialize()).toEqual(sample.serialize());
    expect(AudienceSample.deserialize(stored, decode)).toBeNull();
  });

  it("rejects malformed stored forms and bad arguments", () => {
    const good = { v: 1, capacity: 10, entries: [["00000000000000aa", T0, "x"]] };
    expect(AudienceSample.deserialize(good)?.size).toBe(1);
    for (const bad of [
      null,
      "x",
      { ...good, v: 2 },
      { ...good, capacity: 2 },
      { ...good, capacity: 1_000_001 },
      { ...good, entries: "none" },
      { ...good, entries: [["00aa", T0, "x"]] },
      { ...good, entries: [["00000000000000aa", "later", "x"]] },
      { ...good, entries: [["00000000000000aa", T0]] },
    ]) {
      expect(AudienceSample.deserialize(bad)).toBeNull();
    }
    expect(() => new AudienceSample(2)).toThrow(RangeError);
    expect(() => new AudienceSample(1.5)).toThrow(RangeError);
    const sample = new AudienceSample<number>(10);
    expect(() => sample.offer("xyz", 1, T0)).toThrow(TypeError);
    expect(() => sample.offer({ hi: 2 ** 32, lo: 0 }, 1, T0)).toThrow(TypeError);
    expect(() => sample.offer("00000000000000aa", 1, Number.NaN)).toThrow(TypeError);
    expect(sample.estimate(() => 1)).toEqual({ estimate: 0, sampled: 0, population: 0, standardError: 0 });
    sample.offer("00000000000000aa", 1, T0);
    expect(() => sample.estimate(() => 1.5)).toThrow(RangeError);
    expect(() => sample.estimate(() => Number.NaN)).toThrow(RangeError);
  });
});
