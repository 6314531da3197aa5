import type { HttpClient, HttpRequest, HttpResponse, Sleep } from "./adapters.ts";
import { concatBytes } from "./bytes.ts";
import { UpdraftError } from "./errors.ts";

/** How requests are retried: on network errors, 5xx, and a 429 that says when (Retry-After); other 4xx are final. */
export interface RetryPolicy {
  /** Tries in all, the first included (≥ 1). Default 4. */
  attempts: number;
  /** The first backoff (before jitter). Default 500 ms. */
  baseDelayMs: number;
  /** The largest backoff (before jitter). Default 30 s. */
  maxDelayMs: number;
  /** A Retry-After asking for longer than this ends the retries (the error carries it). Default 60 s. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
};

const HTTP_DATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A Retry-After header (RFC 9110 §10.2.3) as ms to wait from `now`: delay-seconds (`120`) or an
 * IMF-fixdate (`Wed, 21 Oct 2026 07:28:00 GMT`; a date in the past waits 0). Null when absent or
 * not one of these forms.
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  if (!HTTP_DATE.test(v)) return null;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The backoff before retry number `retry` (0 for the first retry): exponential, capped, with "equal
 * jitter" (half fixed, half random by `random01` in [0, 1)), so clients that failed together do not
 * come back together.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random01: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(ceiling / 2 + (ceiling / 2) * random01);
}

/**
 * The wait before retry number `retry`, or null to stop: when the attempts are spent, or when the
 * service asked (Retry-After) for longer than `maxRetryAfterMs`. A Retry-After is honoured as given
 * (never shortened by the backoff); without one the backoff applies.
 */
export function retryDelay(
  retry: number,
  policy: RetryPolicy,
  retryAfterMs: number | null,
  random01: number,
): number | null {
  if (retry + 1 >= policy.attempts) return null;
  if (retryAfterMs !== null) return retryAfterMs > policy.maxRetryAfterMs ? null : retryAfterMs;
  return backoffDelay(retry, policy, random01);
}

/** What a retrying sender needs. */
export interface RetryContext {
  http: HttpClient;
  sleep: Sleep;
  now: () => number;
  jitter: () => number;
  retry: RetryPolicy;
}

/** Drops a response's body unread (its iterator's `return` releases the connection). */
export async function discard(res: HttpResponse): Promise<void> {
  const it = res.body[Symbol.asyncIterator]();
  await it.return?.();
}

/**
 * Sends `make()` and hands a response below 500 to `handle`, retrying with backoff (Retry-After
 * honoured) on network errors (thrown by the adapter or while `handle` reads the body), on 5xx, on
 * 429 (only after its Retry-After, as docs/protocol.md asks), and when `handle` throws
 * `DOWNLOAD_INCOMPLETE`. The request is rebuilt for every try (a download's Range moves on). Any
 * other 4xx goes to `handle` like any other status: it is never retried.
 */
export async function sendWithRetry<T>(
  ctx: RetryContext,
  make: () => HttpRequest | Promise<HttpRequest>,
  handle: (res: HttpResponse) => Promise<T>,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    let failure: UpdraftError;
    let retryAfter: number | null = null;
    try {
      const res = await ctx.http.request(await make());
      const rateLimitedAfter = res.status === 429 ? parseRetryAfter(res.header("retry-after"), ctx.now()) : null;
      if (res.status < 500 && rateLimitedAfter === null) return await handle(res);
      retryAfter = rateLimitedAfter ?? parseRetryAfter(res.header("retry-after"), ctx.now());
      await discard(res).catch(() => undefined);
      failure = new UpdraftError("HTTP_ERROR", `The service answered ${res.status}.`, {
        status: res.status,
        ...(retryAfter === null ? {} : { retryAfterMs: retryAfter }),
      });
    } catch (error) {
      if (error instanceof UpdraftError && error.code !== "DOWNLOAD_INCOMPLETE") throw error;
      failure =
        error instanceof UpdraftError
          ? error
          : new UpdraftError("NETWORK_ERROR", "The request failed.", { cause: error });
    }
    const wait = retryDelay(retry, ctx.retry, retryAfter, ctx.jitter());
    if (wait === null) throw failure;
    await ctx.sleep(wait);
  }
}

/**
 * The whole body of a response, refusing (and stopping the transfer) as soon as it is longer than
 * `limit` bytes: `SIZE_EXCEEDED` by default.
 */
export async function readBody(res: HttpResponse, limit: number, what: string): Promise<Uint8Array> {
  const declared = res.header("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    await discard(res).catch(() => undefined);
    throw new UpdraftError("SIZE_EXCEEDED", `${what} declares ${declared} bytes, more than ${limit}.`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > limit) throw new UpdraftError("SIZE_EXCEEDED", `${what} is longer than ${limit} bytes.`);
    chunks.push(chunk);
  }
  return concatBytes(chunks);
}
