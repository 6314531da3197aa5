import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { DEFAULT_MAX_PART_BYTES } from "./domain/delivery";
import { packageBaseFrom } from "./domain/deployment";
import { AppError } from "./domain/errors";
import { DEFAULT_PACKAGE_LIMITS } from "./domain/package";
import { type ServiceKeys, serviceKeysFrom } from "./domain/service-keys";
import { TokenBuckets } from "./domain/stats/token-bucket";
import { type BucketKey, bucketKeyFromBytes, bucketKeyFromHex, createKeyedHash } from "./domain/targeting/bucket";
import { DEFAULT_WEBHOOK_RETRY_SECONDS } from "./domain/webhooks";
import { cachedAdmissionGate, durableObjectAdmissionGate } from "./edge/admissions";
import { thresholdKey } from "./edge/audience-monitor";
import { ed25519Signer, randomIds, verifyEd25519, webCryptoHasher } from "./edge/crypto";
import { DEFAULT_DELIVERY_CACHE, deliveryCache } from "./edge/delivery-cache";
import { deliveryStore } from "./edge/delivery-store";
import { geoFromCf } from "./edge/geo";
import { listContentStore } from "./edge/list-content";
import { ISOLATE_CACHE_BUDGET_BYTES, MemoryBudget, RESERVED_CACHE_BYTES } from "./edge/memory-budget";
import { hmacPreviewTokens } from "./edge/preview-tokens";
import { qrPng, qrSvg } from "./edge/qr-image";
import { r2PackageStore } from "./edge/r2-packages";
import { durableObjectAudiences, durableObjectMonitors } from "./edge/release-monitors";
import { CheckRecorder, DEFAULT_RECORDER, StatsRecorder, type ThresholdSource } from "./edge/stats-recorder";
import { parseUserAgent } from "./edge/user-agent";
import { hmacSha256Hex, newWebhookSecret, webhookSender } from "./edge/webhooks";
import { fflateReader } from "./edge/zip-reader";
import { zstd } from "./edge/zstd";
import { d1Store } from "./store/d1-store";
import { d1Throttle } from "./store/d1-throttle";
import { reportOutages } from "./store/outage";
import { ReleaseAddresses } from "./usecases/ingest-stats";
import type { Clock, Deps } from "./usecases/ports";
import type { StatsHashes } from "./usecases/record-events";

/** Bindings and secrets. Secrets are set with `wrangler secret put` (docs/deploy.md) and are optional here. */
export type Bindings = Env & {
  SIGNING_KEY_SEED?: string;
  SIGNING_KEY_ID?: string;
  /** The signed key set (docs/key-rotation.md): JSON of {payload, signatures}, or it in base64url. */
  SIGNING_KEYSET?: string;
  BOOTSTRAP_SECRET?: string;
  /** 32 hex digits: the secret key of percentage bucketing. Without it no device is in a percentage. */
  BUCKET_KEY?: string;
  /** How long an isolate uses a target's delivery head before asking for a newer one (ms, default 1000). */
  SNAPSHOT_CACHE_MS?: string;
  /** Largest delivery part (one mini program on one environment) in bytes (default 256 KiB). */
  PART_MAX_BYTES?: string;
  /** Public base URL of package downloads (a CDN); unset: the host of each check request. */
  PACKAGE_BASE_URL?: string;
  /** Largest package, unpacked, a patch job takes (bytes, default 12 MiB; docs/patches.md). */
  PATCH_MAX_INPUT_BYTES?: string;
  /**
   * 32 hex digits: the key of the keyed hashes statistics keep instead of device ids
   * (docs/statistics.md). Unset: derived from SIGNING_KEY_SEED.
   */
  STATS_KEY?: string;
  /** How long accepted events wait in an isolate before they are sent to the stats Queue (ms, default 1000). */
  STATS_FLUSH_MS?: string;
  /** How long what checks record waits in an isolate before it is sent (ms, default 10000). */
  STATS_CHECKS_FLUSH_MS?: string;
};

/**
 * What checks record (offers, installed versions, sampled devices) is sent every 10 s per isolate:
 * its flush serializes sketches, so a longer window makes it cheaper per check (docs/statistics.md).
 */
export const CHECKS_FLUSH_MS = 10_000;

/** Per-device limit of POST /v1/events: a burst of two full batches, then 2 events a second. */
export const EVENTS_PER_DEVICE = { burst: 200, refillPerSecond: 2 } as const;

/** zstd level of patches: 19 is the highest without --ultra's memory (docs/patches.md). */
export const PATCH_ZSTD_LEVEL = 19;

/** Jobs per Queue send (the Queue's batch limit is 100). */
const SEND_BATCH = 100;

const systemClock: Clock = { now: () => Date.now() };

// Every port is request-independent, and some must outlive a request (the snapshot cache, the
// imported signing key, the list and admission caches): the whole set is built once per isolate,
// keyed by the env object the runtime hands every request of that isolate.
const isolates = new WeakMap<object, Deps>();

/** The composition root: every port built from the bindings, once per isolate. */
export function buildDeps(env: Bindings): Deps {
  let deps = isolates.get(env);
  if (!deps) {
    deps = build(env);
    isolates.set(env, deps);
  }
  return deps;
}

function build(env: Bindings): Deps {
  const store = reportOutages(d1Store(env.DB));
  const statsOn = (env.STATS as string) !== "off" && env.STATS_QUEUE !== undefined;
  const statsFlushMs = positiveOr(Number(env.STATS_FLUSH_MS), DEFAULT_RECORDER.flushMs);
  const hashes = statsHashes(statsKey(env));
  const pollMs = positiveOr(Number(env.SNAPSHOT_CACHE_MS), DEFAULT_DELIVERY_CACHE.pollMs);
  const budget = isolateMemoryBudget();
  const maxPackageBytes = Number(env.MAX_PACKAGE_BYTES) || 20 * 1024 * 1024;
  // Throws SERVICE_MISCONFIGURED on an invalid value: before anything is cached, so every request
  // of the isolate answers that problem until the setting is fixed.
  const packageBaseUrl = packageBaseFrom(env.PACKAGE_BASE_URL);
  const signer = env.SIGNING_KEY_SEED ? ed25519Signer(env.SIGNING_KEY_SEED, env.SIGNING_KEY_ID ?? "default") : null;
  let serviceKeys: ServiceKeys | string | undefined;
  return {
    packageBaseUrl,
    clock: systemClock,
    ids: randomIds,
    hasher: webCryptoHasher,
    // drizzle builds its schema metadata on construction: once per isolate, not per request.
    store,
    throttle: reportOutages(d1Throttle(env.DB)),
    packages: r2PackageStore(env.PACKAGES),
    reader: fflateReader,
    delivery: deliveryCache(
      deliveryStore({
        kv: env.SNAPSHOTS,
        r2: env.PACKAGES,
        index: env.DELIVERY,
        cache: typeof caches === "undefined" ? null : caches.default,
        clock: systemClock,
      }),
      systemClock,
      budget,
      { ...DEFAULT_DELIVERY_CACHE, pollMs },
    ),
    signer,
    serviceKeys: () => {
      serviceKeys ??= serviceKeysFrom(
        signer === null ? null : { keyId: signer.keyId, publicKey: signer.publicKey() },
        env.SIGNING_KEYSET,
      );
      return serviceKeys;
    },
    previews: hmacPreviewTokens(env.SIGNING_KEY_SEED),
    verifyEd25519,
    qrImages: { svg: (text, scale) => qrSvg(text, { scale }), png: (text, scale) => qrPng(text, { scale }) },
    lists: listContentStore(env.PACKAGES, env.SNAPSHOTS, budget),
    admissions: cachedAdmissionGate(durableObjectAdmissionGate(env.ADMISSIONS), undefined, budget),
    bucketKey: env.BUCKET_KEY ? bucketKeyFromHex(env.BUCKET_KEY) : null,
    parseUserAgent,
    geoFromCf,
    memory: budget,
    patches: {
      queue:
        env.PATCH_JOBS === undefined
          ? null
          : {
              async send(jobs) {
                for (let i = 0; i < jobs.length; i += SEND_BATCH) {
                  await env.PATCH_JOBS.sendBatch(jobs.slice(i, i + SEND_BATCH).map((body) => ({ body })));
                }
              },
            },
      bases: nonNegativeOr(env.PATCH_BASE_VERSIONS ? Number(env.PATCH_BASE_VERSIONS) : Number.NaN, 5),
      maxRatio: positiveOr(Number(env.PATCH_MAX_RATIO), 0.5),
      maxInputBytes: positiveOr(Number(env.PATCH_MAX_INPUT_BYTES), 12 * 1024 * 1024),
      retrySeconds: nonNegativeOr(env.PATCH_RETRY_SECONDS ? Number(env.PATCH_RETRY_SECONDS) : Number.NaN, 30),
      codec: async () => {
        const z = await zstd();
        return {
          compress: (data, dict) => z.compress(data, dict, PATCH_ZSTD_LEVEL),
          decompress: (frame, dict, size) => z.decompress(frame, dict, size),
          memoryBytes: () => z.memoryBytes(),
        };
      },
    },
    events: {
      sink: statsOn ? new StatsRecorder(env.STATS_QUEUE, { ...DEFAULT_RECORDER, flushMs: statsFlushMs }) : null,
      hashes,
      limiter: new TokenBuckets(EVENTS_PER_DEVICE),
    },
    consoleKeys: consoleKeys(env.SIGNING_KEY_SEED ?? env.BOOTSTRAP_SECRET ?? null),
    checks:
      statsOn && hashes !== null
        ? new CheckRecorder(
            env.STATS_QUEUE,
            hashes,
            kvThresholds(env.SNAPSHOTS),
            positiveOr(Number(env.STATS_CHECKS_FLUSH_MS), CHECKS_FLUSH_MS),
          )
        : null,
    stats: {
      addresses: new ReleaseAddresses(store),
      monitors: durableObjectMonitors(env.MONITORS),
      audiences: durableObjectAudiences(env.AUDIENCES),
    },
    webhooks: {
      queue:
        env.WEBHOOK_QUEUE === undefined
          ? null
          : {
              async send(message) {
                await env.WEBHOOK_QUEUE.send(message);
              },
            },
      fetch: webhookSender(),
      sign: hmacSha256Hex,
      newSecret: newWebhookSecret,
      retrySeconds: nonNegativeOr(
        env.WEBHOOK_RETRY_SECONDS ? Number(env.WEBHOOK_RETRY_SECONDS) : Number.NaN,
        DEFAULT_WEBHOOK_RETRY_SECONDS,
      ),
    },
    limits: {
      ...DEFAULT_PACKAGE_LIMITS,
      maxPackageBytes,
      maxPartBytes: positiveOr(Number(env.PART_MAX_BYTES), DEFAULT_MAX_PART_BYTES),
    },
  };
}

/**
 * The statistics key: STATS_KEY, else HMAC-SHA256(SIGNING_KEY_SEED, "updraft statistics key v1") cut
 * to 16 bytes, so a deployment with a signing key needs no other secret; null without either.
 * Throws SERVICE_MISCONFIGURED on an invalid STATS_KEY (like any invalid setting, before caching).
 */
function statsKey(env: Bindings): BucketKey | null {
  if (env.STATS_KEY) {
    const key = bucketKeyFromHex(env.STATS_KEY);
    if (key === null) throw new AppError("SERVICE_MISCONFIGURED", "STATS_KEY must be 32 hex digits.");
    return key;
  }
  if (!env.SIGNING_KEY_SEED) return null;
  const mac = createHmac("sha256", env.SIGNING_KEY_SEED).update("updraft statistics key v1").digest();
  return bucketKeyFromBytes(new Uint8Array(mac.subarray(0, 16)));
}

/**
 * CSRF tokens of console sessions: HMAC-SHA256 of the session under a key derived from a deployment
 * secret (the same in every isolate); without one, a random key per isolate (a single local process).
 */
function consoleKeys(secret: string | null) {
  const key =
    secret === null ? randomBytes(32) : createHmac("sha256", secret).update("updraft console csrf v1").digest();
  const csrf = (session: string) => createHmac("sha256", key).update(session).digest("base64url");
  return {
    csrf,
    verify: (session: string, given: string) => {
      const want = Buffer.from(csrf(session));
      const got = Buffer.from(given);
      return want.length === got.length && timingSafeEqual(want, got);
    },
  };
}

/** A target's sample threshold of a day, as its audience monitor published it in KV (2^32: none yet). */
function kvThresholds(kv: KVNamespace): ThresholdSource {
  return async (appKey, env, day) => {
    const text = await kv.get(thresholdKey(appKey, env, day), { cacheTtl: 60 });
    const value = text === null ? Number.NaN : Number(text);
    return Number.isFinite(value) && value > 0 ? value : 2 ** 32;
  };
}

function statsHashes(key: BucketKey | null): StatsHashes | null {
  if (key === null) return null;
  const device = createKeyedHash(key, "updraft:device");
  const event = createKeyedHash(key, "updraft:event");
  return {
    device,
    user: createKeyedHash(key, "updraft:user"),
    event: (deviceId, eventId) => event(`${deviceId}\u0000${eventId}`),
  };
}

/** `n` when it is a whole number of zero or more (0 turns patches off), else `fallback`. */
function nonNegativeOr(n: number, fallback: number): number {
  return Number.isSafeInteger(n) && n >= 0 ? n : fallback;
}

/** `n` when it is a positive number, else `fallback` (an unset, empty or nonsensical setting). */
function positiveOr(n: number, fallback: number): number {
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/**
 * The isolate's one memory budget for caches: ISOLATE_CACHE_BUDGET_BYTES of the isolate's 128 MB.
 * Caches bounded by entry counts reserve their worst case; delivery state and list shards share
 * the rest, evicting cold entries (edge/memory-budget.ts).
 */
function isolateMemoryBudget(): MemoryBudget {
  const budget = new MemoryBudget(ISOLATE_CACHE_BUDGET_BYTES);
  for (const [name, bytes] of Object.entries(RESERVED_CACHE_BYTES)) budget.reserve(name, bytes);
  return budget;
}
