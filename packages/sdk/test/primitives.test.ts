// Pure building blocks: byte codecs, version order, retry timing, the update-mode policy.
import { describe, expect, it } from "vitest";
import type { HttpRequest } from "../src/adapters.ts";
import { fromBase64url, toBase64url, toHex, utf8Decode, utf8Encode } from "../src/bytes.ts";
import { isUpdraftError } from "../src/errors.ts";
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, retryDelay, sendWithRetry } from "../src/retry.ts";
import { compareVersions } from "../src/semver.ts";
import { isSafePath } from "../src/unpack.ts";
import { updateModePolicy } from "../src/update-mode.ts";
import { response } from "./fixtures.ts";

describe("byte codecs", () => {
  it("encode and decode UTF-8 as the platform does, refusing invalid bytes", () => {
    for (const text of ["", "abc", "é", "€ and 𝄞", "日本語/パス.js"]) {
      expect(Buffer.from(utf8Encode(text)).toString("hex")).toBe(Buffer.from(text, "utf8").toString("hex"));
      expect(utf8Decode(Buffer.from(text, "utf8"))).toBe(text);
    }
    expect(Buffer.from(utf8Encode("\ud800x")).toString("hex")).toBe(Buffer.from("\ufffdx").toString("hex"));
    for (const bad of ["c0af", "e08080", "eda080", "f4908080", "80", "e282", "ff"]) {
      expect(utf8Decode(Buffer.from(bad, "hex")), bad).toBeNull();
    }
  });

  it("read base64url only in its canonical unpadded form", () => {
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => i * 7);
    const text = Buffer.from(bytes).toString("base64url");
    expect(toBase64url(bytes)).toBe(text);
    expect(fromBase64url(text)).toEqual(bytes);
    expect(fromBase64url(`${text.slice(0, -1)}=`)).toBeNull();
    expect(fromBase64url("ab+/")).toBeNull();
    expect(fromBase64url("A")).toBeNull();
    expect(fromBase64url("AA")).toEqual(Uint8Array.of(0));
    expect(fromBase64url("AB")).toBeNull(); // trailing bits set: a second text for the same byte
    expect(toHex(Uint8Array.of(0, 15, 255))).toBe("000fff");
  });
});

describe("compareVersions", () => {
  it("orders by semantic version precedence", () => {
    const ordered = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0",
      "1.2.0",
      "1.10.0",
      "10.0.0",
    ];
    for (let i = 0; i + 1 < ordered.length; i++) {
      expect(compareVersions(ordered[i] as string, ordered[i + 1] as string), `${ordered[i]} < ${ordered[i + 1]}`).toBe(
        -1,
      );
      expect(compareVersions(ordered[i + 1] as string, ordered[i] as string)).toBe(1);
    }
    expect(compareVersions("1.0.0+build.1", "1.0.0+build.2")).toBe(0);
    expect(compareVersions("99999999999999999999.0.0", "99999999999999999998.0.0")).toBe(1);
    expect(compareVersions("1.0", "1.0.0")).toBeNull();
    expect(compareVersions("01.0.0", "1.0.0")).toBeNull();
  });
});

describe("isSafePath", () => {
  it("accepts relative slash paths and refuses escapes", () => {
    for (const ok of ["a.js", "dir/b.js", "深い/名前.txt"]) expect(isSafePath(ok), ok).toBe(true);
    for (const bad of ["", "/abs", "../x", "a/../b", "a//b", "./a", "a\\b", "C:x", "a\u0000b", "a/", "x".repeat(513)]) {
      expect(isSafePath(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe("retry timing", () => {
  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.UTC(2026, 9, 21, 7, 28, 0);
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Wed, 21 Oct 2026 07:28:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 21 Oct 2026 07:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("-5", now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter("1.5", now)).toBeNull();
  });

  it("backs off exponentially up to a cap, with jitter in the upper half", () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it("stops after the attempts, or when Retry-After asks for too long", () => {
    const policy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 10_000 };
    expect(retryDelay(0, policy, null, 0)).toBe(50);
    expect(retryDelay(1, policy, null, 0)).toBe(100);
    expect(retryDelay(2, policy, null, 0)).toBeNull();
    expect(retryDelay(0, policy, 5000, 0)).toBe(5000);
    expect(retryDelay(0, policy, 10_001, 0)).toBeNull();
  });
});

describe("sendWithRetry", () => {
  const make = (): HttpRequest => ({ method: "GET", url: "https://x.test/y", headers: {} });
  function ctx(statuses: (number | "throw")[], headers: Record<string, string> = {}) {
    const sleeps: number[] = [];
    let calls = 0;
    return {
      sleeps,
      calls: () => calls,
      ctx: {
        http: {
          async request() {
            const s = statuses[calls++] ?? 200;
            if (s === "throw") throw new TypeError("connection reset");
            return response(s, "body", s >= 500 || s === 429 ? headers : {});
          },
        },
        sleep: async (ms: number) => {
          sleeps.push(ms);
        },
        now: () => Date.UTC(2026, 0, 1),
        jitter: () => 0,
        retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 60_000 },
      },
    };
  }

  it("retries 5xx and network errors with backoff, then succeeds", async () => {
    const t = ctx([503, "throw", 500, 200]);
    expect(await sendWithRetry(t.ctx, make, async (res) => res.status)).toBe(200);
    expect(t.calls()).toBe(4);
    expect(t.sleeps).toEqual([50, 100, 200]);
  });

  it("honours Retry-After", async () => {
    const t = ctx([503, 200], { "retry-after": "7" });
    await sendWithRetry(t.ctx, make, async (res) => res.status);
    expect(t.sleeps).toEqual([7000]);
  });

  it("never retries a 4xx", async () => {
    const t = ctx([404, 200]);
    expect(await sendWithRetry(t.ctx, make, async (res) => res.status)).toBe(404);
    expect(t.calls()).toBe(1);
    expect(t.sleeps).toEqual([]);
  });

  it("retries a 429 only after its Retry-After; without one it is an answer like any 4xx", async () => {
    const limited = ctx([429, 200], { "retry-after": "3" });
    expect(await sendWithRetry(limited.ctx, make, async (res) => res.status)).toBe(200);
    expect(limited.sleeps).toEqual([3000]);
    const bare = ctx([429, 200]);
    expect(await sendWithRetry(bare.ctx, make, async (res) => res.status)).toBe(429);
    expect(bare.calls()).toBe(1);
  });

  it("gives up after the attempts with the last failure", async () => {
    const t = ctx([503, 503, 503, 503, 200]);
    const error = await sendWithRetry(t.ctx, make, async (res) => res.status).catch((e: unknown) => e);
    expect(isUpdraftError(error, "HTTP_ERROR") && error.status).toBe(503);
    expect(t.calls()).toBe(4);
    const n = ctx(["throw", "throw", "throw", "throw"]);
    expect(
      isUpdraftError(await sendWithRetry(n.ctx, make, async () => 1).catch((e: unknown) => e), "NETWORK_ERROR"),
    ).toBe(true);
  });

  it("gives up at once when Retry-After is longer than allowed, and says how long", async () => {
    const t = ctx([503, 200], { "retry-after": "3600" });
    const error = await sendWithRetry(t.ctx, make, async (res) => res.status).catch((e: unknown) => e);
    expect(isUpdraftError(error, "HTTP_ERROR") && error.retryAfterMs).toBe(3_600_000);
    expect(t.calls()).toBe(1);
  });
});

describe("updateModePolicy", () => {
  it("follows sync and async, and the host policy for default", () => {
    expect(updateModePolicy("sync", { installed: true })).toBe("sync");
    expect(updateModePolicy("async", { installed: true })).toBe("async");
    expect(updateModePolicy("async", { installed: false })).toBe("sync");
    expect(updateModePolicy("default", { installed: false })).toBe("sync");
    expect(updateModePolicy("default", { installed: true })).toBe("async");
    expect(updateModePolicy("default", { installed: true }, () => "sync")).toBe("sync");
  });
});
