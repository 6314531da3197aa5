import { describe, expect, it } from "vitest";
import { memo, memo2 } from "../../src/domain/memo";

// A small deterministic generator: keys repeat (the memo's front entry and its map both get hits).
function keys(n: number, distinct: number): string[] {
  let x = 7;
  return Array.from({ length: n }, () => {
    x = (x * 48271) % 2147483647;
    return `k${x % distinct}`;
  });
}

describe("bounded memos", () => {
  it("memo answers like the function, null and undefined included, and calls it once per key until full", () => {
    let calls = 0;
    const fn = (k: string) => {
      calls++;
      return k.endsWith("0") ? null : k.endsWith("1") ? undefined : k.length;
    };
    const m = memo(fn, 100);
    const seq = keys(5000, 40);
    for (const k of seq) expect(m(k)).toBe(fn(k));
    calls = 0;
    for (const k of seq) m(k);
    expect(calls).toBe(0);
  });

  it("memo stays bounded: a full memo is cleared and keeps answering correctly", () => {
    let calls = 0;
    const m = memo((k) => {
      calls++;
      return `v:${k}`;
    }, 10);
    for (const k of keys(2000, 50)) expect(m(k)).toBe(`v:${k}`);
    expect(calls).toBeGreaterThan(50); // it had to forget
  });

  it("memo2 answers like the function for every pair, with repeated and alternating pairs", () => {
    let calls = 0;
    const fn = (a: string, b: string) => {
      calls++;
      return a < b ? -1 : a > b ? 1 : 0;
    };
    const m = memo2(fn, 100);
    const as = keys(3000, 6);
    const bs = keys(3001, 7).slice(1);
    for (let i = 0; i < as.length; i++) {
      const a = as[i] as string;
      const b = bs[i] as string;
      expect(m(a, b)).toBe(fn(a, b));
      expect(m(a, b)).toBe(fn(a, b)); // the front entry
      expect(m(b, a)).toBe(fn(b, a)); // same strings, other order
    }
    calls = 0;
    for (let i = 0; i < as.length; i++) m(as[i] as string, bs[i] as string);
    expect(calls).toBe(0);
  });
});
