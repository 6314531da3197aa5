import { describe, expect, it } from "vitest";
import { EVICTION_SCAN, TokenBuckets } from "../../src/domain/stats/token-bucket";

const T0 = 1_700_000_000_000;

describe("per-key token buckets", () => {
  it("allows a burst, then one take per refill interval", () => {
    // 6 per minute, burst 10: the research's suggestion for POST /v1/events.
    const tb = new TokenBuckets({ burst: 10, refillPerSecond: 0.1 });
    const results = Array.from({ length: 12 }, () => tb.take("d1", T0));
    expect(results.filter(Boolean)).toHaveLength(10);
    expect(results.slice(10)).toEqual([false, false]);
    expect(tb.retryAfter("d1", T0)).toBe(10_000);
    expect(tb.take("d1", T0 + 9_999)).toBe(false);
    expect(tb.take("d1", T0 + 10_000)).toBe(true);
    expect(tb.take("d1", T0 + 10_000)).toBe(false);
    // A long rest refills up to the burst, never beyond.
    expect(tb.tokens("d1", T0 + 10_000 + 3_600_000)).toBe(10);
    const later = T0 + 10_000 + 3_600_000;
    expect(Array.from({ length: 11 }, () => tb.take("d1", later)).filter(Boolean)).toHaveLength(10);
  });

  it("over any span t a key gets at most burst + rate·t", () => {
    const tb = new TokenBuckets({ burst: 5, refillPerSecond: 2 });
    let granted = 0;
    // One attempt every 50 ms for 60 s: 20 attempts per second against a refill of 2.
    for (let ms = 0; ms <= 60_000; ms += 50) if (tb.take("flood", T0 + ms)) granted++;
    expect(granted).toBe(5 + 2 * 60);
  });

  it("charges `cost` tokens, refuses for free, and never grants more than the burst at once", () => {
    const tb = new TokenBuckets({ burst: 10, refillPerSecond: 1 });
    expect(tb.take("d", T0, 7)).toBe(true);
    expect(tb.take("d", T0, 4)).toBe(false);
    expect(tb.tokens("d", T0)).toBe(3);
    expect(tb.retryAfter("d", T0, 4)).toBe(1_000);
    expect(tb.take("d", T0, 3)).toBe(true);
    expect(tb.take("d", T0 + 1_000_000, 11)).toBe(false);
    expect(tb.retryAfter("d", T0, 11)).toBe(Number.POSITIVE_INFINITY);
    expect(tb.take("d", T0, 0)).toBe(true);
  });

  it("one flooding key does not affect another", () => {
    const tb = new TokenBuckets({ burst: 10, refillPerSecond: 0.1 });
    let flooded = 0;
    for (let i = 0; i <= 10_000; i++) if (tb.take("flooder", T0 + i)) flooded++;
    expect(flooded).toBe(11); // the burst, plus one token refilled after 10 s
    for (let i = 0; i < 100; i++) {
      const key = `quiet-${i}`;
      expect(tb.take(key, T0 + 10_000)).toBe(true);
      expect(tb.tokens(key, T0 + 10_000)).toBe(9);
    }
  });

  it("a clock going backwards grants nothing", () => {
    const tb = new TokenBuckets({ burst: 2, refillPerSecond: 1 });
    expect(tb.take("d", T0)).toBe(true);
    expect(tb.take("d", T0)).toBe(true);
    expect(tb.take("d", T0 - 60_000)).toBe(false);
    expect(tb.take("d", T0 + 1_000)).toBe(true);
  });

  it("remembers at most maxKeys keys", () => {
    const tb = new TokenBuckets({ burst: 3, refillPerSecond: 1, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) {
      tb.take(`k${i}`, T0 + i);
      expect(tb.size).toBeLessThanOrEqual(100);
    }
    expect(tb.size).toBe(100);
  });

  it("evicts keys whose bucket is full again first, and a flooding key last", () => {
    const tb = new TokenBuckets({ burst: 10, refillPerSecond: 0.1, maxKeys: 50 });
    for (let i = 0; i < 20; i++) tb.take("flooder", T0);
    expect(tb.take("flooder", T0)).toBe(false);
    // Fresh keys each take once, at the same moment: each is owed one token, the flooder ten.
    for (let i = 0; i < 5_000; i++) tb.take(`churn-${i}`, T0);
    expect(tb.size).toBe(50);
    expect(tb.take("flooder", T0)).toBe(false);
    expect(tb.tokens("flooder", T0)).toBe(0);
    // Once keys are full again they go first: the scan stops at the first one.
    const idle = new TokenBuckets({ burst: 1, refillPerSecond: 1, maxKeys: EVICTION_SCAN });
    for (let i = 0; i < EVICTION_SCAN; i++) idle.take(`old-${i}`, T0);
    idle.take("busy", T0 + 500); // evicts old-0 (closest to full) although every bucket is owed
    expect(idle.tokens("old-0", T0 + 500)).toBe(1);
    expect(idle.tokens("busy", T0 + 500)).toBe(0);
    idle.take("new", T0 + 10_000);
    expect(idle.size).toBe(EVICTION_SCAN);
    expect(idle.tokens("busy", T0 + 10_000)).toBe(1);
  });

  it("rejects bad options and arguments", () => {
    expect(() => new TokenBuckets({ burst: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ burst: 1, refillPerSecond: 0 })).toThrow(RangeError);
    expect(() => new TokenBuckets({ burst: 1, refillPerSecond: 1, maxKeys: 0 })).toThrow(RangeError);
    const tb = new TokenBuckets({ burst: 1, refillPerSecond: 1 });
    expect(() => tb.take("d", T0, -1)).toThrow(RangeError);
    expect(() => tb.take("d", Number.NaN)).toThrow(TypeError);
  });
});
