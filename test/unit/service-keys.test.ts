// The service's verification keys from SIGNING_KEYSET (src/domain/service-keys.ts): what GET /v1/keys
// publishes, and when the service refuses to sign answers devices would refuse.
import { describe, expect, it } from "vitest";
import { serviceKeysFrom, signingRefusal } from "../../src/domain/service-keys";
import { publicKeyOf, signedKeyset, TEST_SEEDS, testKeysetPayload } from "../support/trust";

const signer = { keyId: "test-key", publicKey: publicKeyOf(TEST_SEEDS.current) };
const setting = async (payload: Record<string, unknown> = testKeysetPayload()) =>
  JSON.stringify(await signedKeyset(payload));

describe("serviceKeysFrom", () => {
  it("without a key set lists the signing key alone, with no window", () => {
    expect(serviceKeysFrom(signer, undefined)).toEqual({
      keys: [{ keyId: "test-key", alg: "Ed25519", publicKey: signer.publicKey, notBefore: null, notAfter: null }],
      keyset: null,
      version: null,
      signsFrom: null,
      signsUntil: null,
    });
    expect(serviceKeysFrom(null, " ")).toMatchObject({ keys: [], version: null });
  });

  it("reads the key set as JSON or as base64url of it", async () => {
    const json = await setting();
    const keys = serviceKeysFrom(signer, json);
    if (typeof keys === "string") throw new Error(keys);
    expect(keys.version).toBe(2);
    expect(keys.keys.map((k) => k.keyId)).toEqual(["test-key", "test-key-old"]);
    expect(keys.keyset?.payload).toBe(JSON.parse(json).payload);
    expect(serviceKeysFrom(signer, Buffer.from(json).toString("base64url"))).toEqual(keys);
  });

  it("refuses a setting that is unreadable or does not list the signing key with its public key", async () => {
    expect(serviceKeysFrom(signer, "not json")).toMatch(/neither the JSON/);
    expect(serviceKeysFrom(signer, JSON.stringify({ payload: "{}", signatures: [] }))).toMatch(/signatures/);
    const payload = testKeysetPayload();
    expect(serviceKeysFrom(signer, await setting({ ...payload, keys: payload.keys.slice(1) }))).toMatch(
      /does not list the signing key test-key/,
    );
    const other = { ...signer, publicKey: publicKeyOf(TEST_SEEDS.stranger) };
    expect(serviceKeysFrom(other, await setting())).toMatch(/another public key/);
    expect(serviceKeysFrom(signer, await setting({ ...payload, version: 0 }))).toMatch(/version/);
  });

  it("refuses to sign outside the signing key's window or after the key set expired", async () => {
    const payload = testKeysetPayload();
    const [current, old] = payload.keys;
    const windowed = { ...current, notBefore: 1_000, notAfter: 5_000 };
    const keys = serviceKeysFrom(signer, await setting({ ...payload, keys: [windowed, old], expiresAt: 4_000 }));
    if (typeof keys === "string") throw new Error(keys);
    expect([keys.signsFrom, keys.signsUntil]).toEqual([1_000, 4_000]);
    expect(signingRefusal(keys, 999)).toMatch(/not started/);
    expect(signingRefusal(keys, 1_000)).toBeNull();
    expect(signingRefusal(keys, 4_000)).toBeNull();
    expect(signingRefusal(keys, 4_001)).toMatch(/expired/);
    const open = serviceKeysFrom(signer, await setting());
    if (typeof open === "string") throw new Error(open);
    expect(signingRefusal(open, Date.UTC(2030, 0, 1))).toBeNull();
  });
});
