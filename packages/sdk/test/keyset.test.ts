// Service key rotation: key sets signed by pinned roots, never going back, refreshed when needed.
import { describe, expect, it } from "vitest";
import { nobleEd25519Verify, nobleSha256 } from "../src/defaults.ts";
import { keysetSuccession, pinKeys, revokedAfter, verifyKeyset } from "../src/keyset.ts";
import { codeOf, keysetPayload, pub, rawKeyId, SEEDS, setup, signedKeyset, signWith, T0 } from "./fixtures.ts";

const roots = (...seeds: string[]) => pinKeys(seeds.map(pub), nobleSha256, "root");

const V1 = keysetPayload(1, [{ keyId: "svc-1", seed: SEEDS.service }]);
const V2 = keysetPayload(2, [
  { keyId: "svc-1", seed: SEEDS.service },
  { keyId: "svc-2", seed: SEEDS.service2 },
]);
const V3 = keysetPayload(3, [{ keyId: "svc-2", seed: SEEDS.service2 }]);

describe("verifyKeyset", () => {
  it("pins keys under the id derived from the raw key", async () => {
    const pinned = await roots(SEEDS.root);
    expect([...pinned.keys()]).toEqual([rawKeyId(pub(SEEDS.root))]);
    expect(await codeOf(pinKeys(["not-a-key"], nobleSha256, "root"))).toBe("INVALID_OPTIONS");
  });

  it("accepts a key set signed by a pinned root", async () => {
    const v = await verifyKeyset(signedKeyset(V1), await roots(SEEDS.root), 1, nobleEd25519Verify);
    expect(v.payload.version).toBe(1);
    expect(v.payload.keys.map((k) => k.keyId)).toEqual(["svc-1"]);
  });

  it("refuses a key set signed by another root, a forged signature, or an edited payload", async () => {
    const pinned = await roots(SEEDS.root);
    expect(await codeOf(verifyKeyset(signedKeyset(V1, [SEEDS.stranger]), pinned, 1, nobleEd25519Verify))).toBe(
      "KEYSET_INVALID",
    );
    // A stranger's signature presented under the root's key id.
    const forged = signedKeyset(V1, [SEEDS.stranger]);
    forged.signatures[0] = { keyId: rawKeyId(pub(SEEDS.root)), signature: forged.signatures[0]?.signature as string };
    expect(await codeOf(verifyKeyset(forged, pinned, 1, nobleEd25519Verify))).toBe("KEYSET_INVALID");
    const edited = signedKeyset(V1);
    edited.payload = edited.payload.replace('"version":1', '"version":9');
    expect(await codeOf(verifyKeyset(edited, pinned, 1, nobleEd25519Verify))).toBe("KEYSET_INVALID");
    expect(await codeOf(verifyKeyset({ payload: "x" }, pinned, 1, nobleEd25519Verify))).toBe("KEYSET_INVALID");
  });

  it("refuses a well-signed payload that does not parse", async () => {
    const text = JSON.stringify({ ...V1, keys: [] });
    const keyset = {
      payload: text,
      signatures: [{ keyId: rawKeyId(pub(SEEDS.root)), signature: signWith(SEEDS.root, `updraft-keyset-v1\n${text}`) }],
    };
    expect(await codeOf(verifyKeyset(keyset, await roots(SEEDS.root), 1, nobleEd25519Verify))).toBe("KEYSET_INVALID");
  });

  it("counts distinct pinned roots toward the threshold", async () => {
    const pinned = await roots(SEEDS.root, SEEDS.root2);
    expect(await codeOf(verifyKeyset(signedKeyset(V1, [SEEDS.root]), pinned, 2, nobleEd25519Verify))).toBe(
      "KEYSET_INVALID",
    );
    expect(await codeOf(verifyKeyset(signedKeyset(V1, [SEEDS.root, SEEDS.root]), pinned, 2, nobleEd25519Verify))).toBe(
      "KEYSET_INVALID",
    );
    expect(
      await codeOf(verifyKeyset(signedKeyset(V1, [SEEDS.root, SEEDS.stranger]), pinned, 2, nobleEd25519Verify)),
    ).toBe("KEYSET_INVALID");
    expect(await codeOf(verifyKeyset(signedKeyset(V1, [SEEDS.root2, SEEDS.root]), pinned, 2, nobleEd25519Verify))).toBe(
      "resolved",
    );
  });
});

describe("keysetSuccession and revocation", () => {
  const verified = async (payload: unknown) =>
    verifyKeyset(signedKeyset(payload), await roots(SEEDS.root), 1, nobleEd25519Verify);

  it("moves only forward; an equal version must be the identical payload", async () => {
    const v2 = await verified(V2);
    const trusted = { payload: v2.signed.payload, version: 2 };
    expect(keysetSuccession(null, v2)).toBe("newer");
    expect(keysetSuccession(trusted, await verified(V3))).toBe("newer");
    expect(keysetSuccession(trusted, v2)).toBe("same");
    expect(() => keysetSuccession(trusted, { ...v2, payload: { ...v2.payload, version: 1 } })).toThrow(
      expect.objectContaining({ code: "KEYSET_ROLLBACK" }),
    );
    const twin = await verified({ ...V2, issuedAt: V2.issuedAt + 1 });
    expect(() => keysetSuccession(trusted, twin)).toThrow(expect.objectContaining({ code: "KEYSET_CONFLICT" }));
  });

  it("revokes the keys a newer set drops, and trusts a key listed again", async () => {
    const v2 = (await verified(V2)).payload;
    const v3 = (await verified(V3)).payload;
    expect(revokedAfter(v2, [], v3)).toEqual(["svc-1"]);
    expect(revokedAfter(v3, ["svc-1"], v2)).toEqual([]);
    expect(revokedAfter(null, [], v2)).toEqual([]);
  });
});

describe("the client's key set", () => {
  it("is fetched on first use, persisted, and survives a new client on the same storage", async () => {
    const t = setup();
    t.service.offer("mp", "1.0.0", { "a.js": "a" });
    await t.client.check(["mp"]);
    expect(t.service.requests.filter((r) => r.url.endsWith("/v1/keys"))).toHaveLength(1);
    expect(JSON.parse((await t.storage.get("keyset")) as string)).toMatchObject({ checkedAt: T0, revoked: [] });
    // A second client on the same storage trusts the stored set: no fetch within the refresh interval.
    const again = setup({ storage: t.storage });
    again.service.offer("mp", "1.0.0", { "a.js": "a" });
    await again.client.check(["mp"]);
    expect(again.service.requests.filter((r) => r.url.endsWith("/v1/keys"))).toHaveLength(0);
  });

  it("never goes back to a lower version, and keeps the trusted one", async () => {
    const t = setup();
    t.service.state.keyset = signedKeyset(V2);
    expect((await t.client.refreshKeys()).version).toBe(2);
    t.service.state.keyset = signedKeyset(V1);
    expect(await codeOf(t.client.refreshKeys())).toBe("KEYSET_ROLLBACK");
    t.service.state.keyset = signedKeyset({ ...V2, expiresAt: T0 + 10 ** 9 });
    expect(await codeOf(t.client.refreshKeys())).toBe("KEYSET_CONFLICT");
    t.service.state.keyset = signedKeyset(V2, [SEEDS.stranger]);
    expect(await codeOf(t.client.refreshKeys())).toBe("KEYSET_INVALID");
    t.service.state.keyset = null;
    expect(await codeOf(t.client.refreshKeys())).toBe("KEYSET_INVALID");
    expect(JSON.parse(JSON.parse((await t.storage.get("keyset")) as string).payload).version).toBe(2);
    // Signed by svc-2 (listed by v2 only): still trusted, so v2 stayed.
    t.service.state.keyset = signedKeyset(V2);
    t.service.state.signer = { keyId: "svc-2", seed: SEEDS.service2 };
    await t.client.check(["mp"]);
  });

  it("never goes back when two refreshes overlap and the later-answered one is older", async () => {
    // A fresh edge answers v3 at once, a lagging one answers v2 later: the refreshes take turns, so
    // the second compares its v2 with the v3 the first stored.
    const served = [
      { keyset: signedKeyset(V3), delayMs: 0 },
      { keyset: signedKeyset(V2), delayMs: 30 },
    ];
    const base = setup();
    const http: typeof base.options.http = {
      async request(req) {
        if (!req.url.endsWith("/v1/keys")) return base.service.http.request(req);
        const next = served.shift();
        await new Promise((r) => setTimeout(r, next?.delayMs ?? 0));
        base.service.state.keyset = next?.keyset ?? null;
        return base.service.http.request(req);
      },
    };
    const t = setup({ storage: base.storage, http });
    const outcomes = await Promise.allSettled([t.client.refreshKeys(), t.client.refreshKeys()]);
    expect(outcomes[0]).toMatchObject({ status: "fulfilled", value: { version: 3 } });
    expect(outcomes[1]).toMatchObject({ status: "rejected", reason: { code: "KEYSET_ROLLBACK" } });
    expect(JSON.parse(JSON.parse((await base.storage.get("keyset")) as string).payload).version).toBe(3);
  });

  it("refuses a stored key set that no longer verifies (storage is not trusted blindly)", async () => {
    const t = setup();
    await t.client.refreshKeys();
    const stored = JSON.parse((await t.storage.get("keyset")) as string);
    stored.payload = stored.payload.replace("svc-1", "svc-x");
    await t.storage.set("keyset", JSON.stringify(stored));
    const warnings: string[] = [];
    const again = setup({ storage: t.storage, onWarning: (e) => warnings.push(e.code) });
    await again.client.check(["mp"]);
    expect(warnings).toEqual(["KEYSET_INVALID"]);
    expect(again.service.requests.filter((r) => r.url.endsWith("/v1/keys"))).toHaveLength(1);
  });

  it("starts from a bundled key set, and refuses one that does not verify", async () => {
    const t = setup({ initialKeyset: signedKeyset(V2) });
    t.service.state.keyset = null; // the service cannot be reached for keys: the bundled set is used
    t.service.state.signer = { keyId: "svc-2", seed: SEEDS.service2 };
    await t.client.check(["mp"]);
    const bad = setup({ initialKeyset: signedKeyset(V2, [SEEDS.stranger]) });
    expect(await codeOf(bad.client.check(["mp"]))).toBe("KEYSET_INVALID");
  });

  it("is refreshed when an answer names a key it does not trust", async () => {
    const t = setup();
    await t.client.refreshKeys();
    t.service.state.keyset = signedKeyset(V2);
    t.service.state.signer = { keyId: "svc-2", seed: SEEDS.service2 };
    await t.client.check(["mp"]);
    expect(t.service.requests.filter((r) => r.url.endsWith("/v1/keys"))).toHaveLength(2);
    // A key no key set lists: refused after one more fetch.
    t.service.state.signer = { keyId: "who", seed: SEEDS.stranger };
    expect(await codeOf(t.client.check(["mp"]))).toBe("KEY_UNKNOWN");
    expect(t.service.requests.filter((r) => r.url.endsWith("/v1/keys"))).toHaveLength(3);
  });

  it("is refreshed when the answer says a newer one is published; a dropped key is revoked", async () => {
    const t = setup();
    t.service.state.keyset = signedKeyset(V2);
    await t.client.refreshKeys();
    t.service.state.keyset = signedKeyset(V3);
    t.service.state.keysetVersion = 3;
    // Signed by svc-1, trusted by v2, dropped by v3 which the answer announces.
    expect(await codeOf(t.client.check(["mp"]))).toBe("KEY_REVOKED");
    expect(JSON.parse((await t.storage.get("keyset")) as string).revoked).toEqual(["svc-1"]);
    // And stays revoked, even when the answer no longer announces anything.
    t.service.state.keysetVersion = null;
    expect(await codeOf(t.client.check(["mp"]))).toBe("KEY_REVOKED");
    t.service.state.signer = { keyId: "svc-2", seed: SEEDS.service2 };
    await t.client.check(["mp"]);
  });

  it("is refreshed once older than the refresh interval, and kept when that refresh fails", async () => {
    const warnings: string[] = [];
    const t = setup({ keysetRefreshMs: 60_000, onWarning: (e) => warnings.push(e.code) });
    await t.client.check(["mp"]);
    t.clock.advance(30_000);
    await t.client.check(["mp"]);
    expect(t.service.requests.filter((r) => r.url.endsWith("/v1/keys"))).toHaveLength(1);
    t.clock.advance(31_000);
    await t.client.check(["mp"]);
    expect(t.service.requests.filter((r) => r.url.endsWith("/v1/keys"))).toHaveLength(2);
    t.clock.advance(61_000);
    t.service.state.keyset = signedKeyset(V1, [SEEDS.stranger]);
    await t.client.check(["mp"]);
    expect(warnings).toEqual(["KEYSET_INVALID"]);
  });

  it("must be refreshed once past its expiresAt", async () => {
    const t = setup();
    t.service.state.keyset = signedKeyset({ ...V1, expiresAt: T0 + 120_000 });
    await t.client.check(["mp"]);
    t.clock.advance(200_000);
    // The service still has only the expired set: nothing is trusted.
    expect(await codeOf(t.client.check(["mp"]))).toBe("KEYSET_EXPIRED");
    t.service.state.keyset = signedKeyset({ ...V2, expiresAt: null });
    await t.client.check(["mp"]);
  });
});
