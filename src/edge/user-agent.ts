// ua-parser-js 1.x is CommonJS (module.exports = UAParser): the default import works in Node and workerd alike.
import UAParser from "ua-parser-js";
import type { ParsedUserAgent } from "../domain/device-profile";

/** Longer UAs are cut before parsing and caching, bounding both the regex work and the cache's memory. */
export const MAX_USER_AGENT_LENGTH = 512;
const CACHE_SIZE = 1000;

// Isolate-level LRU (a Map iterates in insertion order, so the first key is the least recently used).
// Results are frozen because every caller with the same UA shares one object.
const cache = new Map<string, ParsedUserAgent | null>();
// One parser for the isolate: requests never interleave inside this synchronous function.
const parser = new UAParser();

function clean(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

function parse(ua: string): ParsedUserAgent | null {
  parser.setUA(ua);
  const os = parser.getOS();
  const device = parser.getDevice();
  const osName = clean(os.name);
  let osVersion = clean(os.version);
  let model = clean(device.model);
  // Chrome's reduced UA ("Linux; Android 10; K") freezes the Android version at 10 and the model at
  // "K": both are placeholders, not device facts.
  if (model === "K" && osName === "Android") {
    model = null;
    osVersion = null;
  }
  // ua-parser-js 1.x reports HarmonyOS ("Android 12; HarmonyOS") with the Android compatibility
  // level as its version, which is not the HarmonyOS version.
  if (osName === "HarmonyOS") osVersion = null;
  const brand = clean(device.vendor);
  if (osName === null && osVersion === null && brand === null && model === null) return null;
  return Object.freeze({ osName, osVersion, brand, model });
}

/**
 * Parses what a User-Agent says about the device's OS and hardware. Returns null for a missing or
 * blank UA and for one that names nothing recognizable. Never throws. Results are cached per isolate.
 */
export function parseUserAgent(ua: string | null): ParsedUserAgent | null {
  if (typeof ua !== "string") return null;
  const key = ua.length > MAX_USER_AGENT_LENGTH ? ua.slice(0, MAX_USER_AGENT_LENGTH) : ua;
  if (key.trim() === "") return null;
  if (cache.has(key)) {
    const hit = cache.get(key) ?? null;
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  let result: ParsedUserAgent | null;
  try {
    result = parse(key);
  } catch {
    // A parser bug must not fail a device check: an unparsable UA is simply unknown.
    result = null;
  }
  if (cache.size >= CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(key, result);
  return result;
}
