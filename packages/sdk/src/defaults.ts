// Pure-JavaScript defaults of the adapters (adapters.ts): they run on Node, browsers and engines
// without WebAssembly or WebCrypto Ed25519 (Hermes). Platform globals are reached through
// `globalThis` and checked at run time, never assumed by the types.
import * as ed from "@noble/ed25519";
import { sha256 as nobleSha256Impl, sha512 } from "@noble/hashes/sha2.js";
import { inflateSync } from "fflate";
import type {
  Clock,
  Ed25519Verify,
  HttpClient,
  HttpResponse,
  Inflate,
  PatchDecoder,
  RandomBytes,
  Sha256,
  Sleep,
  Timer,
} from "./adapters.ts";
import { UpdraftError } from "./errors.ts";
import { PATCH_FORMAT } from "./patch.ts";
import { zstdDecompress } from "./zstd-decode.ts";

// @noble/ed25519's synchronous API needs a synchronous sha512: set once, when this module loads.
ed.hashes.sha512 = sha512;

/**
 * Ed25519 verification by @noble/ed25519 (strict RFC 8032 decoding: a non-canonical signature or key
 * is refused rather than accepted by ZIP-215's looser rules). A malformed key verifies nothing.
 */
export const nobleEd25519Verify: Ed25519Verify = (signature, message, publicKey) => {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
};

/** sha256 by @noble/hashes. */
export const nobleSha256: Sha256 = (data) => nobleSha256Impl(data);

/** Raw DEFLATE by fflate, into a buffer of `size + 1` bytes so an overlong stream shows (and stops). */
export const fflateInflate: Inflate = (compressed, size) => inflateSync(compressed, { out: new Uint8Array(size + 1) });

/** `updraft-zstd-v1` segments decoded by a pure-JavaScript zstd (fzstd, with raw dictionaries). */
export const zstdJsDecoder: PatchDecoder = Object.freeze({
  format: PATCH_FORMAT,
  decompress: (frame: Uint8Array, dictionary: Uint8Array, size: number) => zstdDecompress(frame, dictionary, size),
});

/** Patch decoders present by default: the pure-JavaScript one, which runs on every engine. */
export const DEFAULT_PATCH_DECODERS: readonly PatchDecoder[] = [zstdJsDecoder];

interface CryptoLike {
  getRandomValues(array: Uint8Array): Uint8Array;
}

/**
 * `crypto.getRandomValues` of the platform. Throws `NO_RANDOM_SOURCE` when there is none (Hermes
 * without a polyfill such as react-native-get-random-values): nonces must not be guessable, so the
 * SDK never falls back to Math.random. Pass `random` in the client options on such engines.
 */
export function platformRandom(): RandomBytes {
  const crypto = (globalThis as { crypto?: Partial<CryptoLike> }).crypto;
  const getRandomValues = crypto?.getRandomValues;
  if (typeof getRandomValues !== "function") {
    throw new UpdraftError(
      "NO_RANDOM_SOURCE",
      "No crypto.getRandomValues on this platform: give the client a secure `random` adapter.",
    );
  }
  return (length) => getRandomValues.call(crypto, new Uint8Array(length));
}

/** Date.now. */
export const systemClock: Clock = () => Date.now();

type SetTimeout = (callback: () => void, ms: number) => unknown;

/** setTimeout of the platform (every engine the SDK targets has one). */
export const timerSleep: Sleep = (ms) => {
  const setTimeout = (globalThis as { setTimeout?: SetTimeout }).setTimeout;
  if (typeof setTimeout !== "function") return Promise.resolve();
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
};

type SetTimeoutLike = (callback: () => void, ms: number) => unknown;
type ClearTimeoutLike = (handle: unknown) => void;

/**
 * setTimeout of the platform, unref'd where the handle can be (Node), so a pending event flush never
 * keeps a process alive. Without setTimeout the callback is never called (events go out only when the
 * host calls `flushEvents()`).
 */
export const platformTimer: Timer = (callback, ms) => {
  const g = globalThis as { setTimeout?: SetTimeoutLike; clearTimeout?: ClearTimeoutLike };
  const setTimeout = g.setTimeout;
  const clearTimeout = g.clearTimeout;
  if (typeof setTimeout !== "function") return () => undefined;
  const handle = setTimeout(callback, ms);
  const unref = (handle as { unref?: unknown } | null)?.unref;
  if (typeof unref === "function") unref.call(handle);
  return () => {
    if (typeof clearTimeout === "function") clearTimeout(handle);
  };
};

/** The part of a fetch Response the SDK reads. */
export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  body?: {
    getReader(): {
      read(): Promise<{ done: boolean; value?: Uint8Array }>;
      cancel(reason?: unknown): Promise<void>;
      releaseLock?(): void;
    };
  } | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A fetch function, such as the platform's or a test's (`exports.default.fetch`, a tampering proxy). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: Uint8Array },
) => Promise<FetchResponseLike>;

/**
 * An {@link HttpClient} over a fetch function (the platform's `fetch` by default). Bodies are read as
 * a stream when the platform streams (so a download longer than signed stops as soon as it shows),
 * else whole (React Native's fetch): then the size cap applies after the fact.
 */
export function fetchHttp(fetchImpl?: FetchLike): HttpClient {
  const platformFetch = (globalThis as { fetch?: FetchLike }).fetch;
  const doFetch = fetchImpl ?? (typeof platformFetch === "function" ? platformFetch.bind(globalThis) : undefined);
  return {
    async request(req): Promise<HttpResponse> {
      if (doFetch === undefined) throw new Error("no fetch on this platform: give the client an `http` adapter");
      const init: { method: string; headers: Record<string, string>; body?: Uint8Array } = {
        method: req.method,
        headers: req.headers,
      };
      if (req.body !== undefined) init.body = req.body;
      const res = await doFetch(req.url, init);
      return { status: res.status, header: (name) => res.headers.get(name), body: readBody(res) };
    },
  };
}

async function* readBody(res: FetchResponseLike): AsyncGenerator<Uint8Array> {
  const stream = res.body;
  if (stream === undefined || stream === null || typeof stream.getReader !== "function") {
    yield new Uint8Array(await res.arrayBuffer());
    return;
  }
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) {
        done = true;
        return;
      }
      if (chunk.value !== undefined && chunk.value.length > 0) yield chunk.value;
    }
  } finally {
    // Stopped early (more bytes than signed, or an error): drop the rest of the body.
    if (!done) await reader.cancel().catch(() => undefined);
  }
}
