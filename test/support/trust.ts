// The test deployment's chain of trust (vitest.config.ts gives the worker SIGNING_KEYSET from here):
// an offline root key signs a key set listing the current signing key ("test-key", the binding
// SIGNING_KEY_SEED) and a retired one ("test-key-old") whose overlap ended on 2026-01-01. Tests hold
// every private key, so they can forge what an attacker with a stolen or retired key could send.
import { keyIdOf, privateKeyFromSeed, rawPublicKeyOf, signText } from "../../packages/cli/src/ed25519.ts";
import { keysetSigningText, type SignedKeyset } from "../../packages/sdk/src/canonical.ts";

/** Test-only seeds (base64url, 32 bytes). Production root keys never leave an offline machine. */
export const TEST_SEEDS = {
  /** The binding SIGNING_KEY_SEED of vitest.config.ts: the key that signs answers. */
  current: "dGVzdC1zaWduaW5nLWtleS1zZWVkLTMyLWJ5dGVzISE",
  /** Listed with notAfter 2026-01-01: answers it signs are refused after that (plus skew). */
  old: Buffer.from("test-old-signing-key-seed-32byte").toString("base64url"),
  /** The root key that signs the key set. */
  root: Buffer.from("test-offline-root-key-seed-32byte").subarray(0, 32).toString("base64url"),
  /** A key nobody lists. */
  stranger: Buffer.from("test-stranger-key-seed-32-bytes!").toString("base64url"),
} as const;

export const OLD_KEY_NOT_AFTER = Date.UTC(2026, 0, 1);
export const TEST_KEYSET_VERSION = 2;

/** base64url raw public key of a seed. */
export const publicKeyOf = (seedB64: string): string => rawPublicKeyOf(privateKeyFromSeed(seedB64));

/** base64url Ed25519 signature of `bytes` with a seed. */
export const signWith = (seedB64: string, bytes: Uint8Array | string): string =>
  signText(privateKeyFromSeed(seedB64), bytes);

/** Key id of a root or publisher key: first 16 hex digits of sha256 of the raw key. */
export const rawKeyId = keyIdOf;

/** A key set signed by `rootSeed` (the test root by default). */
export async function signedKeyset(
  payload: Record<string, unknown>,
  rootSeed: string = TEST_SEEDS.root,
): Promise<SignedKeyset> {
  const text = JSON.stringify(payload);
  return {
    payload: text,
    signatures: [{ keyId: rawKeyId(publicKeyOf(rootSeed)), signature: signWith(rootSeed, keysetSigningText(text)) }],
  };
}

/** The key set the test worker publishes at GET /v1/keys. */
export function testKeysetPayload() {
  return {
    type: "updraft-keyset",
    version: TEST_KEYSET_VERSION,
    issuedAt: Date.UTC(2026, 0, 1),
    expiresAt: null,
    keys: [
      {
        keyId: "test-key",
        alg: "Ed25519",
        publicKey: publicKeyOf(TEST_SEEDS.current),
        notBefore: Date.UTC(2025, 11, 1),
        notAfter: null,
      },
      {
        keyId: "test-key-old",
        alg: "Ed25519",
        publicKey: publicKeyOf(TEST_SEEDS.old),
        notBefore: null,
        notAfter: OLD_KEY_NOT_AFTER,
      },
    ],
  };
}
