import { packageBaseFrom } from "./domain/deployment";
import { DEFAULT_PACKAGE_LIMITS } from "./domain/package";
import { bucketKeyFromHex } from "./domain/targeting/bucket";
import { cachedAdmissionGate, durableObjectAdmissionGate } from "./edge/admissions";
import { ed25519Signer, randomIds, webCryptoHasher } from "./edge/crypto";
import { geoFromCf } from "./edge/geo";
import { kvSnapshotStore } from "./edge/kv-snapshots";
import { listContentStore } from "./edge/list-content";
import { r2PackageStore } from "./edge/r2-packages";
import { cachedSnapshotStore } from "./edge/snapshot-cache";
import { parseUserAgent } from "./edge/user-agent";
import { fflateReader } from "./edge/zip-reader";
import { d1Store } from "./store/d1-store";
import { reportOutages } from "./store/outage";
import type { Clock, Deps } from "./usecases/ports";
import { DEFAULT_MAX_SNAPSHOT_BYTES } from "./usecases/rebuild-snapshot";

/** Bindings and secrets. Secrets are set with `wrangler secret put` (docs/deploy.md) and are optional here. */
export type Bindings = Env & {
  SIGNING_KEY_SEED?: string;
  SIGNING_KEY_ID?: string;
  BOOTSTRAP_SECRET?: string;
  /** 32 hex digits: the secret key of percentage bucketing. Without it no device is in a percentage. */
  BUCKET_KEY?: string;
  SNAPSHOT_CACHE_MS?: string;
  /** Largest delivery snapshot in bytes (default 8 MiB; KV takes values up to 25 MiB). */
  SNAPSHOT_MAX_BYTES?: string;
  /** Public base URL of package downloads (a CDN); unset: the host of each check request. */
  PACKAGE_BASE_URL?: string;
};

const systemClock: Clock = { now: () => Date.now() };

/** How long an isolate serves a snapshot before asking KV again (bounds how stale a check can be). */
const DEFAULT_SNAPSHOT_CACHE_MS = 1000;

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
  const ttl = Number(env.SNAPSHOT_CACHE_MS ?? DEFAULT_SNAPSHOT_CACHE_MS);
  const maxPackageBytes = Number(env.MAX_PACKAGE_BYTES) || 20 * 1024 * 1024;
  // Throws SERVICE_MISCONFIGURED on an invalid value: before anything is cached, so every request
  // of the isolate answers that problem until the setting is fixed.
  const packageBaseUrl = packageBaseFrom(env.PACKAGE_BASE_URL);
  return {
    packageBaseUrl,
    clock: systemClock,
    ids: randomIds,
    hasher: webCryptoHasher,
    // drizzle builds its schema metadata on construction: once per isolate, not per request.
    store: reportOutages(d1Store(env.DB)),
    packages: r2PackageStore(env.PACKAGES),
    reader: fflateReader,
    snapshots: cachedSnapshotStore(kvSnapshotStore(env.SNAPSHOTS), systemClock, ttl),
    signer: env.SIGNING_KEY_SEED ? ed25519Signer(env.SIGNING_KEY_SEED, env.SIGNING_KEY_ID ?? "default") : null,
    lists: listContentStore(env.PACKAGES, env.SNAPSHOTS),
    admissions: cachedAdmissionGate(durableObjectAdmissionGate(env.ADMISSIONS)),
    bucketKey: env.BUCKET_KEY ? bucketKeyFromHex(env.BUCKET_KEY) : null,
    parseUserAgent,
    geoFromCf,
    limits: {
      ...DEFAULT_PACKAGE_LIMITS,
      maxPackageBytes,
      maxSnapshotBytes: positiveOr(Number(env.SNAPSHOT_MAX_BYTES), DEFAULT_MAX_SNAPSHOT_BYTES),
    },
  };
}

/** `n` when it is a positive number, else `fallback` (an unset, empty or nonsensical setting). */
function positiveOr(n: number, fallback: number): number {
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
