// What a check sends, and every rule a check answer must pass before anything acts on it.
import { describe, expect, it } from "vitest";
import { isUpdraftError, type UpdraftErrorCode } from "../src/errors.ts";
import { memoryStorage } from "../src/memory-storage.ts";
import { codeOf, FILES_V1, keysetPayload, SEEDS, setup, signedKeyset, T0 } from "./fixtures.ts";

type Json = Record<string, unknown>;

describe("the check request", () => {
  it("sends a fresh nonce, device fields, installed versions with sha256, failed versions and patch formats", async () => {
    const t = setup({
      device: { appVersion: "8.2.0", platform: "ios", language: "en", attributes: { tier: "gold" }, userId: null },
      bundled: { shop: { version: "1.0.0", sha256: "ab".repeat(32) } },
      patchDecoders: [{ format: "updraft-zstd-v1", decompress: (frame) => frame }],
    });
    await t.client.reportFailure("shop", "1.1.0");
    await t.client.check();
    await t.client.check(["shop", "other"]);
    const [first, second] = t.service.checks as Json[];
    expect(first).toEqual({
      appId: "host-app",
      env: "prod",
      deviceId: "device-1",
      appVersion: "8.2.0",
      platform: "ios",
      language: "en",
      attributes: { tier: "gold" },
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      patchFormats: ["updraft-zstd-v1"],
      // A bundled version came from no release: sequence 0.
      miniPrograms: [{ id: "shop", version: "1.0.0", sha256: "ab".repeat(32), sequence: 0, failed: ["1.1.0"] }],
    });
    expect(second?.nonce).not.toBe(first?.nonce);
    expect(second?.miniPrograms).toEqual([
      { id: "shop", version: "1.0.0", sha256: "ab".repeat(32), sequence: 0, failed: ["1.1.0"] },
      { id: "other", version: null, sha256: null, failed: [] },
    ]);
  });

  it("refuses patch decoders whose formats the service would refuse, or that this SDK cannot apply", () => {
    const decoder = (format: string) => ({ format, decompress: (b: Uint8Array) => b });
    for (const formats of [
      [""],
      ["x".repeat(33)],
      ["updraft-zstd-v1", "updraft-zstd-v1"],
      Array.from({ length: 9 }, (_, i) => `f${i}`),
      ["bsdiff"],
    ]) {
      expect(() => setup({ patchDecoders: formats.map(decoder) }), formats.join(",")).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    }
    expect(() => setup({ patchDecoders: [decoder("updraft-zstd-v1")] })).not.toThrow();
    expect(() => setup({ patchDecoders: [] })).not.toThrow();
  });

  it("declares the pure-JavaScript patch decoder by default, and refuses duplicate or no ids", async () => {
    const t = setup();
    await t.client.check(["a"]);
    expect((t.service.checks[0] as Json).patchFormats).toEqual(["updraft-zstd-v1"]);
    expect(await codeOf(t.client.check(["a", "a"]))).toBe("INVALID_OPTIONS");
    expect(await codeOf(t.client.check())).toBe("INVALID_OPTIONS");
  });

  it("fails loudly without a secure random source", () => {
    const crypto = Object.getOwnPropertyDescriptor(globalThis, "crypto");
    Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true });
    try {
      expect(() => setup()).toThrow(expect.objectContaining({ code: "NO_RANDOM_SOURCE" }));
      expect(() => setup({ random: (n) => new Uint8Array(n) })).not.toThrow();
    } finally {
      if (crypto) Object.defineProperty(globalThis, "crypto", crypto);
    }
  });

  it("is a typed HTTP_ERROR on a 4xx, with the problem code, and is not retried", async () => {
    const t = setup();
    t.service.state.checkStatus = [{ status: 400 }];
    const error = await t.client.check(["a"]).catch((e: unknown) => e);
    expect(isUpdraftError(error, "HTTP_ERROR") && [error.status, error.problemCode]).toEqual([
      400,
      "SERVICE_UNAVAILABLE",
    ]);
    expect(t.service.requests.filter((r) => r.url.endsWith("/v1/check"))).toHaveLength(1);
  });

  it("is retried on 503 after Retry-After", async () => {
    const t = setup();
    t.service.state.checkStatus = [{ status: 503, headers: { "retry-after": "5" } }];
    await t.client.check(["a"]);
    expect(t.sleeps).toEqual([5000]);
  });
});

describe("the check answer", () => {
  const cases: [string, (t: ReturnType<typeof setup>) => void, UpdraftErrorCode][] = [
    [
      "a flipped byte in the body",
      (t) => {
        t.service.state.editBytes = (b) => {
          const c = Uint8Array.from(b);
          c[c.length - 5] = (c[c.length - 5] as number) ^ 1;
          return c;
        };
      },
      "SIGNATURE_INVALID",
    ],
    [
      "no signature header",
      (t) => (t.service.state.editHeaders = ({ "updraft-signature": _, ...h }) => h),
      "SIGNATURE_INVALID",
    ],
    [
      "a signature of other bytes",
      (t) => (t.service.state.editHeaders = (h) => ({ ...h, "updraft-signature": "A".repeat(86) })),
      "SIGNATURE_INVALID",
    ],
    [
      "a body naming another key than the header",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.keyId = "svc-other";
        };
      },
      "SIGNATURE_INVALID",
    ],
    [
      "a stranger's key",
      (t) => (t.service.state.signer = { keyId: "svc-stranger", seed: SEEDS.stranger }),
      "KEY_UNKNOWN",
    ],
    [
      "a stranger's signature under a trusted key id",
      (t) => (t.service.state.signer = { keyId: "svc-1", seed: SEEDS.stranger }),
      "SIGNATURE_INVALID",
    ],
    [
      "another nonce (a replay)",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.nonce = "replayed-nonce";
        };
      },
      "NONCE_MISMATCH",
    ],
    [
      "no nonce",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.nonce = null;
        };
      },
      "NONCE_MISMATCH",
    ],
    ...(["appId", "env", "deviceId"] as const).map(
      (field): [string, (t: ReturnType<typeof setup>) => void, UpdraftErrorCode] => [
        `another ${field}`,
        (t) => {
          t.service.state.editAnswer = (a) => {
            a[field] = "someone-else";
          };
        },
        "WRONG_TARGET",
      ],
    ),
    [
      "a missing result",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.results = (a.results as unknown[]).slice(1);
        };
      },
      "RESULTS_MISMATCH",
    ],
    [
      "results out of order",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.results = (a.results as unknown[]).reverse();
        };
      },
      "RESULTS_MISMATCH",
    ],
    [
      "an extra result",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.results = [...(a.results as unknown[]), { id: "extra", action: "none" }];
        };
      },
      "RESULTS_MISMATCH",
    ],
    [
      "expired beyond the skew",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.issuedAt = T0 - 400_000;
          a.expiresAt = T0 - 61_000;
        };
      },
      "ANSWER_EXPIRED",
    ],
    [
      "issued too far in the future",
      (t) => {
        t.service.state.editAnswer = (a) => {
          a.issuedAt = T0 + 61_000;
          a.expiresAt = T0 + 361_000;
        };
      },
      "ANSWER_NOT_YET_VALID",
    ],
    [
      "a result without its sequence",
      (t) => {
        t.service.state.editAnswer = (a) => {
          delete (a.results as Json[])[0]?.sequence;
        };
      },
      "MALFORMED_ANSWER",
    ],
    [
      "a result with a relative package URL",
      (t) => {
        t.service.state.editAnswer = (a) => {
          ((a.results as Json[])[0]?.package as Json).url = "/v1/packages/x";
        };
      },
      "MALFORMED_ANSWER",
    ],
  ];

  for (const [name, tamper, code] of cases) {
    it(`is refused with ${code}: ${name}`, async () => {
      const t = setup();
      t.service.offer("shop", "1.0.0", FILES_V1);
      await t.client.check(["shop", "other"]); // the untampered answer passes
      tamper(t);
      expect(await codeOf(t.client.check(["shop", "other"]))).toBe(code);
    });
  }

  it("tolerates the clock skew at both ends", async () => {
    const t = setup();
    t.service.state.editAnswer = (a) => {
      a.issuedAt = T0 + 59_000;
      a.expiresAt = T0 + 359_000;
    };
    await t.client.check(["x"]);
    t.service.state.editAnswer = (a) => {
      a.issuedAt = T0 - 359_000;
      a.expiresAt = T0 - 59_000;
    };
    await t.client.check(["x"]);
    const strict = setup({ clockSkewMs: 0 });
    strict.service.state.editAnswer = (a) => {
      a.expiresAt = T0 - 1;
      a.issuedAt = T0 - 300_001;
    };
    expect(await codeOf(strict.client.check(["x"]))).toBe("ANSWER_EXPIRED");
  });

  it("refuses a key outside its validity window, at issuedAt or now", async () => {
    const ended = setup();
    ended.service.state.keyset = signedKeyset(
      keysetPayload(1, [{ keyId: "svc-1", seed: SEEDS.service, notAfter: T0 - 120_000 }]),
    );
    expect(await codeOf(ended.client.check(["x"]))).toBe("KEY_EXPIRED");
    const within = setup();
    within.service.state.keyset = signedKeyset(
      keysetPayload(1, [{ keyId: "svc-1", seed: SEEDS.service, notAfter: T0 - 30_000 }]),
    );
    expect(await codeOf(within.client.check(["x"]))).toBe("resolved");
    const early = setup();
    early.service.state.keyset = signedKeyset(
      keysetPayload(1, [{ keyId: "svc-1", seed: SEEDS.service, notBefore: T0 + 120_000 }]),
    );
    expect(await codeOf(early.client.check(["x"]))).toBe("KEY_NOT_YET_VALID");
    // Issued while the key was valid, but it ended since: refused at the local clock.
    const late = setup();
    late.service.state.keyset = signedKeyset(
      keysetPayload(1, [{ keyId: "svc-1", seed: SEEDS.service, notAfter: T0 - 120_000 }]),
    );
    late.service.state.editAnswer = (a) => {
      a.issuedAt = T0 - 200_000;
      a.expiresAt = T0 + 100_000;
    };
    expect(await codeOf(late.client.check(["x"]))).toBe("KEY_EXPIRED");
  });

  it("changes nothing stored when refused", async () => {
    const storage = memoryStorage();
    const t = setup({ storage });
    await t.client.check(["shop"]);
    const before = storage.clone();
    t.service.offer("shop", "1.0.0", FILES_V1);
    t.service.state.editAnswer = (a) => {
      a.deviceId = "other";
    };
    expect(await codeOf(t.client.update("shop"))).toBe("WRONG_TARGET");
    expect(await storage.keys("")).toEqual(await before.keys(""));
    expect(await t.client.installed("shop")).toBeNull();
    expect(await t.client.failedVersions("shop")).toEqual([]);
  });

  it("gives frozen results that only this client's install accepts", async () => {
    const t = setup();
    t.service.offer("shop", "1.0.0", FILES_V1);
    const answer = await t.client.check(["shop"]);
    const result = answer.results[0];
    expect(Object.isFrozen(result)).toBe(true);
    if (result?.action !== "update") throw new Error("expected an update");
    expect(() => {
      (result.package as { sha256: string }).sha256 = "0".repeat(64);
    }).toThrow();
    expect(await codeOf(t.client.install({ ...result }))).toBe("NOT_VERIFIED");
    const other = setup();
    expect(await codeOf(other.client.install(result))).toBe("NOT_VERIFIED");
  });
});
