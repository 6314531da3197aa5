// The benchmark workload shared by bench/core.mjs (decision core in Node) and bench/run.mjs (HTTP):
// one snapshot shape, one allowlist, one device mix. Deterministic (seeded PRNG), so runs compare.

/**
 * Mini programs in the benchmark workspace (BENCH_MINI_PROGRAMS, default 50; bench/run.mjs seeds more
 * than 50 straight into D1, see bench/bulk-seed.mjs); each check asks about ASKED of them
 * (BENCH_ASKED, default 20).
 */
export const MINI_PROGRAMS = positiveInteger("BENCH_MINI_PROGRAMS", 50);
export const ASKED = Number(process.env.BENCH_ASKED ?? 20);
/** Exact entries of the user allowlist: `u-0`, `u-5`, `u-10`, … (every fifth user id). */
export const ALLOWLIST_SIZE = 1_000_000;
const USER_ID_SPACE = ALLOWLIST_SIZE * 5;
/** Device ids on the denylist: `dev-0`, `dev-50`, … (1 device in 50 of the mix). */
export const DENYLIST_SIZE = 1000;
/** Mini program 0's 1.3.0 is the one time-window canary; at most this many devices get in. */
export const TIME_WINDOW_CAP = 100;
/** The percentage bucketing key of the benchmark deployment (fixed, so runs bucket devices alike). */
export const BUCKET_KEY = "62656e63682d6275636b65742d6b6579";
export const VERSIONS = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"];
/** Every version is uploaded for host apps >= 8.0.0 (devices on 7.x are incompatible). */
export const COMPAT = ">=8.0.0";

/** Digits of a mini program number in its key: `mp-00`..`mp-49` for 50, `mp-0000`..`mp-9999` for 10,000. */
const KEY_DIGITS = Math.max(2, String(MINI_PROGRAMS - 1).length);
export const mpKey = (m) => `mp-${String(m).padStart(KEY_DIGITS, "0")}`;
export const allowlistText = () => Array.from({ length: ALLOWLIST_SIZE }, (_, i) => `u-${i * 5}`).join("\n");
export const denylistText = () => Array.from({ length: DENYLIST_SIZE }, (_, i) => `dev-${i * 50}`).join("\n");

function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return n;
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Five rules per canary release, three different sets, covering every operator.
const RULES_A = [
  { attribute: "brand", operator: "include", values: ["samsung", "apple", "xiaomi", "huawei", "oppo"] },
  { attribute: "appVersion", operator: "inRange", values: [{ min: "8.0.0", max: "10.0.0" }] },
  { attribute: "osVersion", operator: "semver", values: [">=13"] },
  { attribute: "model", operator: "prefix", values: ["SM-", "iPhone", "Redmi", "ELS-", "CPH"] },
  { attribute: "network", operator: "exclude", values: ["2g"] },
];
const RULES_B = [
  { attribute: "language", operator: "prefix", values: ["zh", "en"] },
  { attribute: "osName", operator: "include", values: ["android", "ios", "harmonyos"] },
  { attribute: "appVersion", operator: "semver", values: [">=8.2.0 <11"] },
  {
    attribute: "model",
    operator: "regex",
    values: ["^(SM-[A-Z]\\d{3,4}|iPhone1\\d|Redmi Note \\d{1,2}|ELS-AN\\d{2})"],
  },
  { attribute: "network", operator: "include", values: ["wifi", "5g", "4g"] },
];
const RULES_C = [
  { attribute: "brand", operator: "exclude", values: ["google"] },
  { attribute: "osVersion", operator: "inRange", values: [{ min: "12" }] },
  { attribute: "appVersion", operator: "outOfRange", values: [{ min: "9.5.0", max: "9.6.0" }] },
  { attribute: "custom:tier", operator: "include", values: ["gold", "silver", "bronze"] },
  { attribute: "language", operator: "regex", values: ["^(zh|en|ja)(-[A-Z]{2})?$"] },
];

/**
 * The canary releases of one mini program, newest last, with their targeting (list ids filled in by
 * the caller: `userList`, `deviceList`). Every mini program also has 1.0.0 in full release.
 * - 1.1.0: device denylist, rules A, 30 % by device id;
 * - 1.2.0: the 1,000,000-user allowlist, rules B, 5 % by user id;
 * - 1.3.0: rules C and 1 % — except on mini program 0, where it is the time-window canary
 *   (window open now, capped at TIME_WINDOW_CAP devices) without a percentage.
 */
export function canaryReleases(m, { userList, deviceList, now }) {
  const third =
    m === 0
      ? {
          rules: RULES_C,
          timeWindow: { startsAt: now - 3_600_000, endsAt: now + 6 * 86_400_000, cap: TIME_WINDOW_CAP },
        }
      : { rules: RULES_C, percentage: { basisPoints: 100 } };
  return [
    {
      version: "1.1.0",
      targeting: {
        denylists: [{ kind: "device", listId: deviceList }],
        rules: RULES_A,
        percentage: { basisPoints: 3000 },
      },
    },
    {
      version: "1.2.0",
      targeting: {
        allowlists: [{ kind: "user", listId: userList }],
        rules: RULES_B,
        percentage: { basisPoints: 500 },
        stickyKey: "user",
      },
    },
    { version: "1.3.0", targeting: third },
  ];
}

const HARDWARE = [
  {
    brand: "Apple",
    platform: "ios",
    models: ["iPhone15,2", "iPhone14,5", "iPhone12,1"],
    os: ["15.7", "16.6.1", "17.5", "18.1"],
  },
  { brand: "samsung", platform: "android", models: ["SM-S918B", "SM-A546E", "SM-G991U"], os: ["11", "12", "13", "14"] },
  {
    brand: "Xiaomi",
    platform: "android",
    models: ["Redmi Note 12", "Redmi Note 9 Pro", "2201123G"],
    os: ["12", "13", "14"],
  },
  { brand: "HUAWEI", platform: "harmony", models: ["ELS-AN00", "NOH-AN00"], os: ["3.0.0", "4.0", "12"] },
  { brand: "OPPO", platform: "android", models: ["CPH2451", "PGEM10"], os: ["10", "13"] },
  { brand: "vivo", platform: "android", models: ["V2227A"], os: ["13", "14"] },
  { brand: "Google", platform: "android", models: ["Pixel 8", "Pixel 6a"], os: ["14", "15"] },
  { brand: null, platform: "android", models: [null], os: [null, "9"] },
];
const APP_VERSIONS = ["7.9.0", "8.0.0", "8.2.1", "8.2", "9.0", "9.5.3.1200", "10.1.0", "11.0.0-beta.2", null];
const NETWORKS = ["wifi", "wifi", "4g", "5g", "3g", "2g", null];
const LANGUAGES = ["zh-CN", "zh-CN", "en", "en-US", "ja", "ko-KR", null];
const TIERS = ["gold", "silver", "bronze", "none"];
const INSTALLED = [null, "1.0.0", "1.0.0", "1.1.0", "1.2.0", "1.3.0"];

const pick = (rand, list) => list[Math.floor(rand() * list.length)];

/**
 * `n` devices as /v1/check request bodies (objects). About 70 % send a user id, a fifth of those on
 * the allowlist; 1 device in 50 is denylisted (for n up to 50,000); 1 in 8 sends no hardware
 * fields at all; the installed versions vary per mini program. Device i asks about ASKED mini
 * programs starting at (7 i mod MINI_PROGRAMS), wrapping around.
 */
export function deviceMix(n, seed = 42) {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const hw = pick(rand, HARDWARE);
    const userId = rand() < 0.7 ? `u-${Math.floor(rand() * USER_ID_SPACE)}` : null;
    const first = (7 * i) % MINI_PROGRAMS;
    return {
      appId: "bench-app",
      env: "prod",
      deviceId: `dev-${i}`,
      userId,
      appVersion: pick(rand, APP_VERSIONS),
      platform: hw.platform,
      osVersion: pick(rand, hw.os),
      brand: hw.brand,
      model: pick(rand, hw.models),
      network: pick(rand, NETWORKS),
      language: pick(rand, LANGUAGES),
      attributes: { tier: pick(rand, TIERS) },
      miniPrograms: Array.from({ length: ASKED }, (_, k) => ({
        id: mpKey((first + k) % MINI_PROGRAMS),
        version: pick(rand, INSTALLED),
      })),
    };
  });
}

/** True when the device's user id is on the benchmark allowlist. */
export const allowlisted = (device) => device.userId !== null && Number(device.userId.slice(2)) % 5 === 0;
