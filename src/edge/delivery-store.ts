import type { BucketIndex, DeliveryChange, DeliveryHead, DeliveryPart } from "../domain/delivery";
import type { Clock, DeliveryStore, Fetched } from "../usecases/ports";
import { within } from "./deadline";
import type { DeliveryIndex } from "./delivery-index";

/** The object name of a target's delivery index (one DeliveryIndex per app and environment). */
export const deliveryIndexName = (appKey: string, env: string) => `${appKey}\u0000${env}`;

/**
 * Time limits of the calls a check makes for delivery state (ms). On expiry the call counts as
 * failed: the isolate serves the copy it holds (within MAX_STALE_MS, edge/delivery-cache.ts), or
 * answers 503 SERVICE_UNAVAILABLE with Retry-After when it holds none. docs/architecture.md lists them.
 */
export const DELIVERY_TIME_LIMITS = {
  /** The head through the location cache, and from the Durable Object on a miss. */
  head: 1500,
  /** One bucket index, likewise. */
  bucket: 1500,
  /** One part from KV. */
  partKv: 1000,
  /** One part from R2, when KV does not have it (yet). */
  partR2: 1500,
} as const;

/**
 * How long a head in the location cache (Cache API) is used before the Durable Object is asked
 * again: with the isolates' own poll interval this bounds how late a change is seen (docs).
 */
export const HEAD_LOCATION_TTL_MS = 1000;

/** Cache API keys: a host that never resolves, never a real request. */
const CACHE_ORIGIN = "https://delivery.updraft.invalid/v2";
const STORED_AT = "x-updraft-stored-at";
/** Longest the Cache API is asked to keep an entry (a bucket index under its version: a day). */
const CACHE_MAX_AGE_S = 86_400;

const partKvKey = (appKey: string, env: string, key: string, version: number) =>
  `delivery:v2:part:${appKey}:${env}:${key}:${version}`;
const partR2Key = (appKey: string, env: string, key: string, version: number) =>
  `delivery/v2/${encodeURIComponent(appKey)}/${encodeURIComponent(env)}/${encodeURIComponent(key)}/${version}.json`;
const targetPath = (appKey: string, env: string) => `${encodeURIComponent(appKey)}/${encodeURIComponent(env)}`;

const utf8 = new TextEncoder();
const byteLength = (text: string) => utf8.encode(text).byteLength;

export interface DeliveryStoreBindings {
  kv: KVNamespace;
  r2: R2Bucket;
  index: DurableObjectNamespace<DeliveryIndex>;
  /** The location's cache (caches.default); null where there is none (the head then comes from the object). */
  cache: Cache | null;
  clock: Clock;
}

/**
 * Delivery state on Cloudflare's storage:
 *
 * - parts are immutable and written to R2 (strongly consistent) and then KV (cached near readers);
 *   readers try KV and fall back to R2 when KV answers "missing" (KV caches misses, so a part written
 *   a moment ago can read as missing at a location for up to a minute);
 * - the head and the bucket indexes live in the target's DeliveryIndex Durable Object, read through
 *   the location's cache: the head for HEAD_LOCATION_TTL_MS, bucket indexes (which only grow newer)
 *   under their version for as long as the cache keeps them.
 */
export function deliveryStore(b: DeliveryStoreBindings): DeliveryStore {
  // A stub per call: stubs are I/O objects of the request that made them.
  const index = (appKey: string, env: string) => b.index.get(b.index.idFromName(deliveryIndexName(appKey, env)));

  /** `load` through the location cache under `url`, fresh for `ttlMs` by the injected clock. */
  const throughCache = async <T>(url: string, ttlMs: number, load: () => Promise<T>): Promise<Fetched<T>> => {
    const now = b.clock.now();
    if (b.cache !== null) {
      const hit = await b.cache.match(url);
      if (hit) {
        const storedAt = Number(hit.headers.get(STORED_AT));
        if (now - storedAt < ttlMs && now >= storedAt) {
          const text = await hit.text();
          return { value: JSON.parse(text) as T, bytes: byteLength(text) };
        }
        await hit.body?.cancel();
      }
    }
    const value = await load();
    const text = JSON.stringify(value);
    if (b.cache !== null) {
      await b.cache.put(
        url,
        new Response(text, {
          headers: {
            "content-type": "application/json",
            // The Cache API keeps it at most this long; freshness is judged by STORED_AT.
            "cache-control": `max-age=${Math.min(CACHE_MAX_AGE_S, Math.max(60, Math.ceil(ttlMs / 1000)))}`,
            [STORED_AT]: String(now),
          },
        }),
      );
    }
    return { value, bytes: byteLength(text) };
  };

  return {
    async putPart(appKey, env, key, version, json) {
      await b.r2.put(partR2Key(appKey, env, key, version), json, {
        httpMetadata: { contentType: "application/json" },
      });
      await b.kv.put(partKvKey(appKey, env, key, version), json);
    },
    async publish(appKey, env, change: DeliveryChange) {
      const head = await index(appKey, env).publish(appKey, env, change);
      return head as DeliveryHead;
    },
    async ceiling(appKey, env) {
      return Number(await index(appKey, env).ceiling());
    },
    head(appKey, env) {
      return within(
        DELIVERY_TIME_LIMITS.head,
        "the delivery head",
        throughCache(`${CACHE_ORIGIN}/head/${targetPath(appKey, env)}`, HEAD_LOCATION_TTL_MS, async () => {
          return ((await index(appKey, env).head()) as DeliveryHead | null) ?? null;
        }),
      );
    },
    bucket(appKey, env, bucket, version) {
      return within(
        DELIVERY_TIME_LIMITS.bucket,
        "a delivery bucket index",
        throughCache(
          `${CACHE_ORIGIN}/bucket/${targetPath(appKey, env)}/${bucket}/${version}`,
          Number.POSITIVE_INFINITY,
          async () => (await index(appKey, env).bucket(bucket)) as BucketIndex,
        ),
      );
    },
    async part(appKey, env, key, version) {
      // KV near the reader first; R2 (strongly consistent) when KV says missing, fails or is late.
      let text = await within(
        DELIVERY_TIME_LIMITS.partKv,
        "a delivery part (KV)",
        b.kv.get(partKvKey(appKey, env, key, version), { cacheTtl: 86_400 }),
      ).catch(() => null);
      if (text === null) {
        text = await within(
          DELIVERY_TIME_LIMITS.partR2,
          "a delivery part (R2)",
          b.r2.get(partR2Key(appKey, env, key, version)).then((o) => (o === null ? null : o.text())),
        );
      }
      if (text === null) return null;
      return { value: JSON.parse(text) as DeliveryPart, bytes: byteLength(text) };
    },
  };
}
