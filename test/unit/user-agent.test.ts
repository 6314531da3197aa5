import { describe, expect, it } from "vitest";
import type { ParsedUserAgent } from "../../src/domain/device-profile";
import { MAX_USER_AGENT_LENGTH, parseUserAgent } from "../../src/edge/user-agent";

const IPHONE_SAFARI =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const SAMSUNG_CHROME =
  "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36";
const REDUCED_CHROME =
  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
const HUAWEI_HARMONY =
  "Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00; HMSCore 6.13.0.302) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 Mobile Safari/537.36";
const WINDOWS_CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const ANDROID_DALVIK = "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)";

describe("parseUserAgent", () => {
  it.each<[string, string, ParsedUserAgent]>([
    ["iPhone Safari", IPHONE_SAFARI, { osName: "iOS", osVersion: "17.5.1", brand: "Apple", model: "iPhone" }],
    [
      "Android Chrome on a Samsung",
      SAMSUNG_CHROME,
      { osName: "Android", osVersion: "14", brand: "Samsung", model: "SM-S918B" },
    ],
    [
      "Huawei HarmonyOS (the UA's version is Android's, so it is dropped)",
      HUAWEI_HARMONY,
      { osName: "HarmonyOS", osVersion: null, brand: "Huawei", model: "NOH-AN00" },
    ],
    [
      "Chrome's reduced Android UA (frozen version and placeholder model dropped)",
      REDUCED_CHROME,
      { osName: "Android", osVersion: null, brand: null, model: null },
    ],
    [
      "Android app HTTP client (Dalvik)",
      ANDROID_DALVIK,
      { osName: "Android", osVersion: "13", brand: "Google", model: "Pixel 7" },
    ],
    ["Windows desktop Chrome", WINDOWS_CHROME, { osName: "Windows", osVersion: "10", brand: null, model: null }],
  ])("%s", (_name, ua, expected) => {
    expect(parseUserAgent(ua)).toEqual(expected);
  });

  it.each<[string, string | null]>([
    ["null", null],
    ["empty", ""],
    ["blank", "   \t "],
    ["garbage", "!!!garbage%%% \u0000\uffff"],
    ["a bare HTTP client", "okhttp/4.12.0"],
  ])("returns null for %s", (_name, ua) => {
    expect(parseUserAgent(ua)).toBeNull();
  });

  it("never throws for a non-string at runtime", () => {
    expect(parseUserAgent(42 as unknown as string)).toBeNull();
  });

  it("bounds a 10 KB UA to its first 512 characters", () => {
    const huge = `${SAMSUNG_CHROME} ${"x".repeat(10 * 1024)}`;
    expect(parseUserAgent(huge)).toEqual(parseUserAgent(SAMSUNG_CHROME));
    const hidden = `${"x".repeat(10 * 1024)} ${IPHONE_SAFARI}`;
    expect(parseUserAgent(hidden)).toBeNull();
    // Anything past the limit is invisible: two UAs differing only after it share one result.
    const prefix = "y".repeat(MAX_USER_AGENT_LENGTH);
    expect(parseUserAgent(`${prefix}${IPHONE_SAFARI}`)).toBeNull();
  });

  it("returns frozen results, shared from the cache for a repeated UA", () => {
    const first = parseUserAgent(SAMSUNG_CHROME);
    expect(Object.isFrozen(first)).toBe(true);
    expect(parseUserAgent(SAMSUNG_CHROME)).toBe(first);
  });

  it("evicts the least recently used entry once 1,000 UAs are cached", () => {
    const ua = (i: number) => `Mozilla/5.0 (Linux; Android 13; EVICT-${i}) AppleWebKit/537.36 Chrome/124.0 Mobile`;
    const keep = parseUserAgent(ua(0));
    const evicted = parseUserAgent(ua(1));
    expect(keep).not.toBeNull();
    for (let i = 2; i <= 1000; i++) {
      parseUserAgent(ua(i));
      // Touching ua(0) keeps it the most recently used, so ua(1) is the oldest.
      if (i % 100 === 0) parseUserAgent(ua(0));
    }
    expect(parseUserAgent(ua(0))).toBe(keep);
    const again = parseUserAgent(ua(1));
    expect(again).toEqual(evicted);
    expect(again).not.toBe(evicted);
  });
});
