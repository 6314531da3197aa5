// A bounded sample of device profiles per target, for the audience estimate (issue 16): bottom-k by a
// keyed 64-bit hash of the device id. The caller hashes (SipHash under a stats key that is not
// BUCKET_KEY, so the sample and the percentage bucket stay independent); this module never sees an id.
//
// - Sampling: the k devices with the smallest hashes among every device offered. A device is in or
//   out for good (its hash never changes), and re-offering it refreshes its profile.
// - Mergeable: the bottom-k of a union is the bottom-k of the union of bottom-k's (one sample per day,
//   merged over the recent window).
// - Population: exact while fewer than k devices were offered; otherwise the KMV estimate (k−1)/τ,
//   τ being the k-th smallest hash scaled to (0, 1]. Relative standard error ≈ 1/√(k−2): 1 % at k = 10,000.
// - Reach: population × the mean over the sample of the caller's probability that a profile is
//   reached (0 or 1 for filters and lists, bp/10,000 for a percentage, applied in expectation since
//   the real bucket needs the clear id). Error on a share f: ≤ √(f(1−f)/k), 0.46 pp at k = 10,000.
// - Memory: at most `capacity` entries of SAMPLE_ENTRY_BYTES each plus the caller's profiles.
// Pure and synchronous: no clock, no I/O.

export const DEFAULT_SAMPLE_CAPACITY = 10_000;
export const MIN_SAMPLE_CAPACITY = 3;
export const MAX_SAMPLE_CAPACITY = 100_000;
export const SAMPLE_FORMAT_VERSION = 1;

/**
 * Bytes an entry costs in V8 besides its profile: the slot object (2 hash halves, seenAt, 2 references),
 * its 16-character hash string, a heap array slot and a Map entry, with the array's and the Map's spare
 * room. Measured 230 B with node 22 (20 full samples of 10,000 with a shared profile, after GC; workerd's
 * compressed pointers make it smaller). Bound: capacity × (256 + profile bytes): 2.6 MB at k = 10,000
 * with no profile, ≈ 5.6 MB with 300-byte profiles.
 */
export const SAMPLE_ENTRY_BYTES = 256;

/** A 64-bit keyed hash: 16 hex digits (most significant first), or its two unsigned 32-bit halves. */
export type SampleHash = string | { readonly hi: number; readonly lo: number };

export interface SampleEntry<P> {
  /** 16 lower-case hex digits. */
  readonly hash: string;
  readonly seenAt: number;
  readonly profile: P;
}

/** The probability in [0, 1] that a sampled device is reached; it gets the hash for list matching. */
export type ReachProbability<P> = (profile: P, hash: string) => number;

export interface AudienceEstimate {
  /** Devices reached (not rounded). */
  estimate: number;
  /** Devices in the sample. */
  sampled: number;
  /** Devices seen: exact when sampled < capacity, else (k−1)/τ. */
  population: number;
  /** One standard error of `estimate`, in devices. */
  standardError: number;
}

/** "How many more than today": `estimate` is proposed − current; `current` and `proposed` are the reaches. */
export interface AudienceDelta extends AudienceEstimate {
  current: number;
  proposed: number;
}

/**
 * What an estimate needs of a sample, without the entries it cannot reach: the sample's size,
 * population and fullness, and only the entries kept (an entry left out is one every reach gives
 * probability 0, so it adds nothing to any sum). What a monitor sends for one mini program's
 * estimate instead of its whole sample.
 */
export interface SampleView<P> {
  capacity: number;
  size: number;
  population: number;
  full: boolean;
  entries: [hash: string, profile: P][];
}

/** The estimates of `estimateAll`: each reach's, and the difference. */
export interface AudienceEstimates {
  current: AudienceEstimate;
  proposed: AudienceEstimate;
  delta: AudienceDelta;
}

/** The stored form: entries sorted by hash, each `[hash, seenAt, encoded profile]`. */
export interface SerializedSample<S = unknown> {
  v: typeof SAMPLE_FORMAT_VERSION;
  capacity: number;
  entries: [string, number, S][];
}

interface Slot<P> {
  readonly hi: number;
  readonly lo: number;
  readonly hash: string;
  seenAt: number;
  profile: P;
}

const HEX64 = /^[0-9a-fA-F]{16}$/;
const TWO_32 = 2 ** 32;
const TWO_64 = 2 ** 64;

// The last parsed hash, so offer() allocates nothing for a device it turns away.
let parsedHi = 0;
let parsedLo = 0;

function parseHash(hash: SampleHash): boolean {
  if (typeof hash === "string") {
    if (!HEX64.test(hash)) return false;
    parsedHi = Number.parseInt(hash.slice(0, 8), 16);
    parsedLo = Number.parseInt(hash.slice(8), 16);
    return true;
  }
  const { hi, lo } = hash;
  if (!isU32(hi) || !isU32(lo)) return false;
  parsedHi = hi;
  parsedLo = lo;
  return true;
}

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x < TWO_32;
}

function hex(hi: number, lo: number): string {
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

function parseOrThrow(hash: SampleHash): void {
  if (!parseHash(hash)) throw new TypeError("sample hash must be 16 hex digits or two unsigned 32-bit halves");
}

/** Negative, zero or positive as (hi, lo) is below, equal to or above the slot's hash. */
function compare(hi: number, lo: number, s: Slot<unknown>): number {
  return hi - s.hi || lo - s.lo;
}

/** A hash scaled to (0, 1]: the upper end of its 2^-64 interval, so it is never 0. */
function unit(s: Slot<unknown>): number {
  return s.hi / TWO_32 + (s.lo + 1) / TWO_64;
}

export class AudienceSample<P> {
  readonly capacity: number;
  /** A max-heap on the hash: the root is the k-th smallest once full, the first to go. */
  private readonly heap: Slot<P>[] = [];
  private readonly byHash = new Map<string, Slot<P>>();

  constructor(capacity = DEFAULT_SAMPLE_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < MIN_SAMPLE_CAPACITY || capacity > MAX_SAMPLE_CAPACITY) {
      throw new RangeError(`sample capacity must be an integer in [${MIN_SAMPLE_CAPACITY}, ${MAX_SAMPLE_CAPACITY}]`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.heap.length;
  }

  get full(): boolean {
    return this.heap.length >= this.capacity;
  }

  /**
   * Keeps the device if its hash is among the k smallest. Returns whether it is in the sample
   * afterwards. Re-offering a sampled device replaces its profile unless `seenAt` is older than the
   * one held (the latest sighting wins, so merging and replaying are order-independent).
   * Equal hashes are the same device (a 64-bit collision among the sampled is ~k·N/2^64).
   */
  offer(hash: SampleHash, profile: P, seenAt: number): boolean {
    parseOrThrow(hash);
    if (!Number.isFinite(seenAt)) throw new TypeError("seenAt must be a finite number");
    const hi = parsedHi;
    const lo = parsedLo;
    const heap = this.heap;
    const top = heap[0];
    if (top !== undefined && heap.length >= this.capacity && compare(hi, lo, top) > 0) return false;
    const key = typeof hash === "string" ? hash.toLowerCase() : hex(hi, lo);
    const held = this.byHash.get(key);
    if (held !== undefined) {
      if (seenAt >= held.seenAt) {
        held.seenAt = seenAt;
        held.profile = profile;
      }
      return true;
    }
    const slot: Slot<P> = { hi, lo, hash: key, seenAt, profile };
    if (top === undefined || heap.length < this.capacity) {
      heap.push(slot);
      siftUp(heap, heap.length - 1);
    } else {
      this.byHash.delete(top.hash);
      heap[0] = slot;
      siftDown(heap, 0);
    }
    this.byHash.set(key, slot);
    return true;
  }

  /**
   * Whether offering this hash would keep (or refresh) a device: the isolate's pre-filter, so that
   * only candidates are buffered and sent.
   */
  admits(hash: SampleHash): boolean {
    parseOrThrow(hash);
    const top = this.heap[0];
    return top === undefined || this.heap.length < this.capacity || compare(parsedHi, parsedLo, top) <= 0;
  }

  get(hash: SampleHash): SampleEntry<P> | undefined {
    parseOrThrow(hash);
    const slot = this.byHash.get(hex(parsedHi, parsedLo));
    return slot === undefined ? undefined : { hash: slot.hash, seenAt: slot.seenAt, profile: slot.profile };
  }

  /** The entries by increasing hash. */
  entries(): SampleEntry<P>[] {
    return [...this.heap]
      .sort((a, b) => compare(a.hi, a.lo, b))
      .map((s) => ({ hash: s.hash, seenAt: s.seenAt, profile: s.profile }));
  }

  /** τ, the k-th smallest hash scaled to (0, 1] once full; 1 before (every device is kept). */
  threshold(): number {
    const top = this.heap[0];
    return top !== undefined && this.full ? unit(top) : 1;
  }

  /** Devices seen: exact before the sample is full, (k−1)/τ after. */
  population(): number {
    return this.full ? (this.capacity - 1) / this.threshold() : this.heap.length;
  }

  /** Devices reached by a targeting, from the mean reach probability over the sample. */
  estimate(reach: ReachProbability<P>): AudienceEstimate {
    let sum = 0;
    let sumSq = 0;
    let sumBernoulli = 0;
    for (const s of this.heap) {
      const p = probability(reach(s.profile, s.hash));
      sum += p;
      sumSq += p * p;
      sumBernoulli += p * (1 - p);
    }
    return this.summarize(sum, sumSq, sumBernoulli);
  }

  /**
   * How many more devices `proposed` reaches than `current`, over the same sample (so the sampling
   * error of the devices both reach cancels). The error term for the buckets assumes both use the
   * same bucket (one release), where a device's change is Bernoulli(|p₂ − p₁|).
   */
  estimateDelta(current: ReachProbability<P>, proposed: ReachProbability<P>): AudienceDelta {
    let sumCurrent = 0;
    let sumProposed = 0;
    let sumSq = 0;
    let sumBernoulli = 0;
    for (const s of this.heap) {
      const p1 = probability(current(s.profile, s.hash));
      const p2 = probability(proposed(s.profile, s.hash));
      const d = p2 - p1;
      sumCurrent += p1;
      sumProposed += p2;
      sumSq += d * d;
      sumBernoulli += Math.abs(d) * (1 - Math.abs(d));
    }
    const delta = this.summarize(sumProposed - sumCurrent, sumSq, sumBernoulli);
    const scale = this.heap.length === 0 ? 0 : delta.population / this.heap.length;
    return { ...delta, current: sumCurrent * scale, proposed: sumProposed * scale };
  }

  private summarize(sum: number, sumSq: number, sumBernoulli: number): AudienceEstimate {
    return summarize(this.shape(), sum, sumSq, sumBernoulli);
  }

  private shape(): SampleShape {
    return { capacity: this.capacity, size: this.heap.length, population: this.population(), full: this.full };
  }

  /**
   * The sample's view for one estimate: `keep` maps a profile to what the reach needs, or null for
   * one no reach can reach (left out).
   */
  view<Q>(keep: (profile: P) => Q | null): SampleView<Q> {
    const entries: [string, Q][] = [];
    for (const s of this.heap) {
      const kept = keep(s.profile);
      if (kept !== null) entries.push([s.hash, kept]);
    }
    return { ...this.shape(), entries };
  }

  /** The stored form; `encode` turns a profile into JSON-safe data (identity by default). */
  serialize<S = P>(encode: (profile: P) => S = (p) => p as unknown as S): SerializedSample<S> {
    const entries = this.entries().map((e): [string, number, S] => [e.hash, e.seenAt, encode(e.profile)]);
    return { v: SAMPLE_FORMAT_VERSION, capacity: this.capacity, entries };
  }

  /**
   * A sample from its stored form, or null if malformed. `decode` returns null for a profile it
   * rejects (identity by default). Entries beyond the capacity keep the smallest hashes.
   */
  static deserialize<P>(
    data: unknown,
    decode: (stored: unknown) => P | null = (x) => x as P,
  ): AudienceSample<P> | null {
    if (typeof data !== "object" || data === null) return null;
    const { v, capacity, entries } = data as Partial<SerializedSample>;
    if (v !== SAMPLE_FORMAT_VERSION || !Array.isArray(entries)) return null;
    if (!Number.isInteger(capacity) || (capacity as number) < MIN_SAMPLE_CAPACITY) return null;
    if ((capacity as number) > MAX_SAMPLE_CAPACITY) return null;
    const sample = new AudienceSample<P>(capacity);
    for (const entry of entries as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 3) return null;
      const [hash, seenAt, stored] = entry as [unknown, unknown, unknown];
      if (typeof hash !== "string" || !HEX64.test(hash)) return null;
      if (typeof seenAt !== "number" || !Number.isFinite(seenAt)) return null;
      const profile = decode(stored);
      if (profile === null) return null;
      sample.offer(hash, profile, seenAt);
    }
    return sample;
  }
}

type SampleShape = Omit<SampleView<unknown>, "entries">;

/**
 * Estimate and standard error from sums over the sample of a per-device value x (Σx, Σx², and
 * Σ Bernoulli variance of the real outcome around x). Share variance: (1 − n/N)·var(x)/n for drawing
 * n of N devices, plus mean Bernoulli variance / N for the real buckets; the population's relative
 * variance 1/(k−2) once estimated.
 */
function summarize(shape: SampleShape, sum: number, sumSq: number, sumBernoulli: number): AudienceEstimate {
  const n = shape.size;
  if (n === 0) return { estimate: 0, sampled: 0, population: 0, standardError: 0 };
  const population = shape.population;
  const mean = sum / n;
  const variance = n > 1 ? Math.max(0, (sumSq - n * mean * mean) / (n - 1)) : 0;
  const finite = Math.max(0, 1 - n / population);
  const shareVariance = (finite * variance) / n + sumBernoulli / n / population;
  const estimate = population * mean;
  const populationRelVariance = shape.full ? 1 / (shape.capacity - 2) : 0;
  const standardError = Math.sqrt(
    population * population * shareVariance + estimate * estimate * populationRelVariance,
  );
  return { estimate, sampled: n, population, standardError };
}

/**
 * Both reaches' estimates and their difference in one pass over a view (what `estimate` twice and
 * `estimateDelta` give on the whole sample: the entries a view leaves out add 0 to every sum).
 */
export function estimateAll<P>(
  view: SampleView<P>,
  current: ReachProbability<P>,
  proposed: ReachProbability<P>,
): AudienceEstimates {
  let s1 = 0;
  let q1 = 0;
  let b1 = 0;
  let s2 = 0;
  let q2 = 0;
  let b2 = 0;
  let qd = 0;
  let bd = 0;
  for (const [hash, profile] of view.entries) {
    const p1 = probability(current(profile, hash));
    const p2 = probability(proposed(profile, hash));
    const d = Math.abs(p2 - p1);
    s1 += p1;
    q1 += p1 * p1;
    b1 += p1 * (1 - p1);
    s2 += p2;
    q2 += p2 * p2;
    b2 += p2 * (1 - p2);
    qd += d * d;
    bd += d * (1 - d);
  }
  const delta = summarize(view, s2 - s1, qd, bd);
  const scale = view.size === 0 ? 0 : delta.population / view.size;
  return {
    current: summarize(view, s1, q1, b1),
    proposed: summarize(view, s2, q2, b2),
    delta: { ...delta, current: s1 * scale, proposed: s2 * scale },
  };
}

/** The bottom-k of the union of two samples, k being the smaller capacity (all a full sample can vouch for). */
export function mergeSamples<P>(a: AudienceSample<P>, b: AudienceSample<P>): AudienceSample<P> {
  const merged = new AudienceSample<P>(Math.min(a.capacity, b.capacity));
  for (const source of [a, b]) {
    for (const e of source.entries()) merged.offer(e.hash, e.profile, e.seenAt);
  }
  return merged;
}

function probability(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`reach probability must be in [0, 1], got ${p}`);
  return p;
}

function siftUp(heap: Slot<unknown>[], index: number): void {
  const slot = heap[index] as Slot<unknown>;
  let i = index;
  while (i > 0) {
    const parentIndex = (i - 1) >> 1;
    const parent = heap[parentIndex] as Slot<unknown>;
    if (compare(slot.hi, slot.lo, parent) <= 0) break;
    heap[i] = parent;
    i = parentIndex;
  }
  heap[i] = slot;
}

function siftDown(heap: Slot<unknown>[], index: number): void {
  const slot = heap[index] as Slot<unknown>;
  const n = heap.length;
  let i = index;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    const left = heap[child] as Slot<unknown>;
    const right = heap[child + 1];
    let larger = left;
    if (right !== undefined && compare(right.hi, right.lo, left) > 0) {
      child += 1;
      larger = right;
    }
    if (compare(larger.hi, larger.lo, slot) <= 0) break;
    heap[i] = larger;
    i = child;
  }
  heap[i] = slot;
}
