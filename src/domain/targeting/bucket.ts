import { type CompileError, pushError } from "./rules";

/**
 * Version of the bucketing scheme, hashed into every message. Changing the hash, the message
 * layout or the reduction to basis points is a new version: it reshuffles every device.
 */
export const BUCKET_VERSION = 1;
/** Buckets are basis points: 0..9999. A percentage of `p` basis points admits buckets `< p`. */
export const BUCKET_COUNT = 10000;
export const MAX_RAMP_STEPS = 100;
const TWO_POW_32_MOD = 2 ** 32 % BUCKET_COUNT;

/** A 128-bit SipHash key (the deployment secret) as four 32-bit words. Build with bucketKeyFrom*. */
export interface BucketKey {
  readonly k0hi: number;
  readonly k0lo: number;
  readonly k1hi: number;
  readonly k1lo: number;
}

/** One step of a phased ramp: from `at` (ms since epoch) on, the percentage is `basisPoints`. */
export interface RampStep {
  at: number;
  basisPoints: number;
}

/** Key from exactly 16 bytes (little-endian words as in the SipHash paper), or null. */
export function bucketKeyFromBytes(bytes: Uint8Array): BucketKey | null {
  if (bytes.length !== 16) return null;
  const w = (i: number) =>
    ((bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)) >>> 0;
  return { k0lo: w(0), k0hi: w(4), k1lo: w(8), k1hi: w(12) };
}

/** Key from exactly 32 hex digits (128 random bits, e.g. `openssl rand -hex 16`), or null. */
export function bucketKeyFromHex(hex: string): BucketKey | null {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return null;
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bucketKeyFromBytes(bytes);
}

let scratch = new Uint8Array(512);
/** The 64-bit result of the last finished hash, as uint32 (hi, lo). */
const lastHash = new Uint32Array(2);

function u32le(b: Uint8Array, i: number): number {
  return (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24);
}

/**
 * SipHash-2-4 over bytes[0, n), starting from `s` (v0..v3 as int32 hi/lo halves, 8 words). With
 * `totalLen < 0`, absorbs the whole 8-byte blocks only and writes the state back to `s`; else
 * finishes a message of `totalLen` bytes without touching `s`, leaves the hash in lastHash and
 * returns it modulo 10000. One function with locals only, so the JIT keeps the state in registers
 * and nothing is allocated.
 */
function sip(s: Int32Array, b: Uint8Array, n: number, totalLen: number): number {
  let v0h = s[0] ?? 0,
    v0l = s[1] ?? 0,
    v1h = s[2] ?? 0,
    v1l = s[3] ?? 0;
  let v2h = s[4] ?? 0,
    v2l = s[5] ?? 0,
    v3h = s[6] ?? 0,
    v3l = s[7] ?? 0;
  const blocks = n & ~7;
  let i = 0;
  let phase = 0; // 0: blocks, 1: after the tail block, 2: after finalization
  for (;;) {
    let mh = 0;
    let ml = 0;
    let rounds = 2;
    if (i < blocks) {
      ml = u32le(b, i);
      mh = u32le(b, i + 4);
      i += 8;
    } else if (phase === 0 && totalLen >= 0) {
      phase = 1;
      mh = (totalLen & 0xff) << 24;
      for (let j = 0; i + j < n; j++) {
        const x = b[i + j] ?? 0;
        if (j < 4) ml |= x << (8 * j);
        else mh |= x << (8 * (j - 4));
      }
    } else if (phase === 1) {
      phase = 2;
      v2l ^= 0xff;
      rounds = 4;
    } else {
      break;
    }
    v3h ^= mh;
    v3l ^= ml;
    // SipRound on 64-bit words as int32 halves; the carry of a + b is the top bit of
    // (a & b) | ((a | b) & ~sum), which stays in int32 arithmetic (twice as fast as a compare).
    for (let r = 0; r < rounds; r++) {
      let lo = (v0l + v1l) | 0;
      v0h = (v0h + v1h + (((v0l & v1l) | ((v0l | v1l) & ~lo)) >>> 31)) | 0;
      v0l = lo;
      let t = (v1h << 13) | (v1l >>> 19);
      v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
      v1h = t ^ v0h;
      t = v0h;
      v0h = v0l;
      v0l = t;
      lo = (v2l + v3l) | 0;
      v2h = (v2h + v3h + (((v2l & v3l) | ((v2l | v3l) & ~lo)) >>> 31)) | 0;
      v2l = lo;
      t = (v3h << 16) | (v3l >>> 16);
      v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
      v3h = t ^ v2h;
      lo = (v0l + v3l) | 0;
      v0h = (v0h + v3h + (((v0l & v3l) | ((v0l | v3l) & ~lo)) >>> 31)) | 0;
      v0l = lo;
      t = (v3h << 21) | (v3l >>> 11);
      v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
      v3h = t ^ v0h;
      lo = (v2l + v1l) | 0;
      v2h = (v2h + v1h + (((v2l & v1l) | ((v2l | v1l) & ~lo)) >>> 31)) | 0;
      v2l = lo;
      t = (v1h << 17) | (v1l >>> 15);
      v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
      v1h = t ^ v2h;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    v0h ^= mh;
    v0l ^= ml;
  }
  if (totalLen < 0) {
    s[0] = v0h;
    s[1] = v0l;
    s[2] = v1h;
    s[3] = v1l;
    s[4] = v2h;
    s[5] = v2l;
    s[6] = v3h;
    s[7] = v3l;
    return 0;
  }
  const hi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  const lo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  lastHash[0] = hi;
  lastHash[1] = lo;
  // (hi * 2^32 + lo) mod 10000, exact in doubles.
  return ((hi % BUCKET_COUNT) * TWO_POW_32_MOD + (lo % BUCKET_COUNT)) % BUCKET_COUNT;
}

function initialState(key: BucketKey): Int32Array {
  return Int32Array.of(
    key.k0hi ^ 0x736f6d65,
    key.k0lo ^ 0x70736575,
    key.k1hi ^ 0x646f7261,
    key.k1lo ^ 0x6e646f6d,
    key.k0hi ^ 0x6c796765,
    key.k0lo ^ 0x6e657261,
    key.k1hi ^ 0x74656462,
    key.k1lo ^ 0x79746573,
  );
}

const utf8 = new TextEncoder();

/** Writes `s` as UTF-8 (lone surrogates as U+FFFD) at `at` in the scratch buffer; returns the end. */
function writeUtf8(s: string, at: number): number {
  if (scratch.length < at + s.length * 3) {
    const bigger = new Uint8Array(Math.max(scratch.length * 2, at + s.length * 3 + 8));
    bigger.set(scratch.subarray(0, at));
    scratch = bigger;
  }
  // Ids are nearly always ASCII: copy code units directly, and leave anything else to the encoder.
  const buf = scratch;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return at + utf8.encodeInto(s, buf.subarray(at)).written;
    buf[at + i] = c;
  }
  return at + s.length;
}

/**
 * A per-release bucketer: the SipHash-2-4 state after the key and the salt is computed once, so
 * each call hashes only the sticky key. Message (version 1):
 * `[BUCKET_VERSION] [salt byte length, u32 LE] [salt UTF-8] [zero padding to 8 bytes] [sticky key UTF-8]`.
 * The bucket is the 64-bit hash modulo 10000 (bias below 2^-50). Synchronous, allocation-free per call.
 */
export function createBucketer(key: BucketKey, salt: string): (stickyKey: string) => number {
  const end = writeUtf8(salt, 5);
  const saltLen = end - 5;
  const buf = scratch;
  buf[0] = BUCKET_VERSION;
  buf[1] = saltLen & 0xff;
  buf[2] = (saltLen >>> 8) & 0xff;
  buf[3] = (saltLen >>> 16) & 0xff;
  buf[4] = (saltLen >>> 24) & 0xff;
  const prefixLen = (end + 7) & ~7;
  buf.fill(0, end, prefixLen);
  const prefix = initialState(key);
  sip(prefix, buf, prefixLen, -1);
  return (stickyKey) => {
    const n = writeUtf8(stickyKey, 0);
    return sip(prefix, scratch, n, prefixLen + n);
  };
}

/** The bucket (0..9999) of `stickyKey` for a release salt. Prefer createBucketer for many devices. */
export function bucketFor(key: BucketKey, salt: string, stickyKey: string): number {
  return createBucketer(key, salt)(stickyKey);
}

/**
 * A keyed 64-bit hash of strings, as 16 hex digits: the bucketer's SipHash with `purpose` in place of
 * a release salt, so hashes for different purposes (devices, events) are unrelated. For statistics,
 * under a key that is not the bucketing key (docs/statistics.md). Synchronous.
 */
export function createKeyedHash(key: BucketKey, purpose: string): (text: string) => string {
  const bucket = createBucketer(key, purpose);
  return (text) => {
    bucket(text);
    return (
      ((lastHash[0] ?? 0) >>> 0).toString(16).padStart(8, "0") +
      ((lastHash[1] ?? 0) >>> 0).toString(16).padStart(8, "0")
    );
  };
}

/** Plain SipHash-2-4 of `message` under a 16-byte key, as 16 hex digits (the reference output order). */
export function sipHash24Hex(key: Uint8Array, message: Uint8Array): string | null {
  const k = bucketKeyFromBytes(key);
  if (k === null) return null;
  sip(initialState(k), message, message.length, message.length);
  const hex = (w: number | undefined) => (w ?? 0).toString(16).padStart(8, "0");
  return hex(lastHash[0]) + hex(lastHash[1]);
}

/**
 * Half-open: in iff `bucket < basisPoints`. 0 admits nobody, 10000 everybody. Because a device's
 * bucket never changes for a release, raising the percentage only adds devices.
 */
export function inPercentage(bucket: number, basisPoints: number): boolean {
  return bucket < basisPoints;
}

/**
 * The percentage (basis points) at `now`: the last step with `at <= now`, or `base` before the
 * first step. `steps` must have passed validateRamp (sorted by `at`, non-decreasing).
 */
export function rampPercentage(steps: readonly RampStep[], now: number, base: number): number {
  let bp = base;
  for (const step of steps) {
    if (step.at > now) break;
    bp = step.basisPoints;
  }
  return bp;
}

function isBasisPoints(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= BUCKET_COUNT;
}

/**
 * Validates a phased ramp: at most MAX_RAMP_STEPS steps, `at` integer ms strictly increasing,
 * `basisPoints` integers 0..10000, non-decreasing and not below `base`. Pointers are relative to
 * the steps array (`/1/basisPoints`).
 */
export function validateRamp(
  input: unknown,
  base = 0,
): { ok: true; steps: RampStep[] } | { ok: false; errors: CompileError[] } {
  const errors: CompileError[] = [];
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_RAMP_STEPS) {
    return { ok: false, errors: [{ pointer: "", message: `must be an array of 1 to ${MAX_RAMP_STEPS} steps` }] };
  }
  const steps: RampStep[] = [];
  let prevAt = -1;
  let prevBp = base;
  input.forEach((s: unknown, i) => {
    if (typeof s !== "object" || s === null || Array.isArray(s)) {
      pushError(errors, `/${i}`, "must be an object with at and basisPoints");
      return;
    }
    const { at, basisPoints, ...rest } = s as Record<string, unknown>;
    if (Object.keys(rest).length > 0) pushError(errors, `/${i}`, "only at and basisPoints are allowed");
    if (!Number.isSafeInteger(at) || (at as number) < 0) pushError(errors, `/${i}/at`, "must be a timestamp in ms");
    else if ((at as number) <= prevAt) pushError(errors, `/${i}/at`, "must be later than the previous step");
    if (!isBasisPoints(basisPoints)) pushError(errors, `/${i}/basisPoints`, "must be an integer from 0 to 10000");
    else if (basisPoints < prevBp) pushError(errors, `/${i}/basisPoints`, "must not be below the previous percentage");
    if (typeof at === "number") prevAt = Math.max(prevAt, at);
    if (isBasisPoints(basisPoints)) prevBp = Math.max(prevBp, basisPoints);
    if (typeof at === "number" && isBasisPoints(basisPoints)) steps.push({ at, basisPoints });
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, steps };
}
