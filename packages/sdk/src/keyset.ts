// The chain of trust for service keys: root keys pinned in the host app sign key sets; a key set
// lists the service keys that sign check answers. Pure rules here; fetching and storing in client.ts.
import type { Ed25519Verify, Sha256 } from "./adapters.ts";
import { fromBase64url, toHex, utf8Encode } from "./bytes.ts";
import {
  KEY_ID_LENGTH,
  type KeysetPayload,
  keysetSigningText,
  parseKeysetPayload,
  parseSignedKeyset,
  type SignedKeyset,
} from "./canonical.ts";
import { UpdraftError } from "./errors.ts";

/** A pinned Ed25519 public key (root or publisher) with its key id. */
export interface PinnedKey {
  keyId: string;
  publicKey: Uint8Array;
}

/**
 * Pins raw Ed25519 public keys given as base64url (43 characters): each gets its key id, the first
 * 16 hex digits of the sha256 of the 32 raw bytes. `INVALID_OPTIONS` for anything that is not a key.
 */
export async function pinKeys(keys: readonly string[], sha256: Sha256, what: string): Promise<Map<string, PinnedKey>> {
  const pinned = new Map<string, PinnedKey>();
  for (const text of keys) {
    const publicKey = fromBase64url(text);
    if (publicKey === null || publicKey.length !== 32) {
      throw new UpdraftError("INVALID_OPTIONS", `A ${what} key is not a base64url raw 32-byte Ed25519 key.`);
    }
    const keyId = toHex(await sha256(publicKey)).slice(0, KEY_ID_LENGTH);
    pinned.set(keyId, { keyId, publicKey });
  }
  return pinned;
}

/** A key set whose root signatures verified. */
export interface VerifiedKeyset {
  signed: SignedKeyset;
  payload: KeysetPayload;
}

/**
 * Verifies a signed key set (the `keyset` of `GET /v1/keys`, or one bundled with the app): its shape,
 * at least `threshold` distinct pinned root keys whose signatures verify over
 * keysetSigningText(payload), and a payload that parses. `KEYSET_INVALID` otherwise. Signatures by
 * keys that are not pinned are ignored (they count for nothing).
 */
export async function verifyKeyset(
  value: unknown,
  roots: ReadonlyMap<string, PinnedKey>,
  threshold: number,
  verify: Ed25519Verify,
): Promise<VerifiedKeyset> {
  const signed = parseSignedKeyset(value);
  if (typeof signed === "string") throw new UpdraftError("KEYSET_INVALID", `The key set is invalid: ${signed}.`);
  const message = utf8Encode(keysetSigningText(signed.payload));
  const good = new Set<string>();
  for (const s of signed.signatures) {
    const root = roots.get(s.keyId);
    const signature = fromBase64url(s.signature);
    if (root === undefined || signature === null || good.has(s.keyId)) continue;
    if (await verify(signature, message, root.publicKey)) good.add(s.keyId);
  }
  if (good.size < threshold) {
    throw new UpdraftError(
      "KEYSET_INVALID",
      `The key set carries ${good.size} valid signature(s) by pinned root keys; ${threshold} needed.`,
    );
  }
  const payload = parseKeysetPayload(signed.payload);
  if (typeof payload === "string") throw new UpdraftError("KEYSET_INVALID", `The key set is invalid: ${payload}.`);
  return { signed, payload };
}

/**
 * Whether a verified key set may follow the trusted one: "newer" (a higher version: replace),
 * "same" (the same version and the identical payload text). A lower version is `KEYSET_ROLLBACK`;
 * the same version with another payload is `KEYSET_CONFLICT` (the root signed two different sets
 * under one version, or someone replays a set into the wrong place).
 */
export function keysetSuccession(
  trusted: { payload: string; version: number } | null,
  candidate: VerifiedKeyset,
): "newer" | "same" {
  if (trusted === null || candidate.payload.version > trusted.version) return "newer";
  if (candidate.payload.version < trusted.version) {
    throw new UpdraftError(
      "KEYSET_ROLLBACK",
      `The key set's version ${candidate.payload.version} is below the trusted ${trusted.version}.`,
    );
  }
  if (candidate.signed.payload !== trusted.payload) {
    throw new UpdraftError(
      "KEYSET_CONFLICT",
      `The key set's version ${trusted.version} is the trusted one's, with another payload.`,
    );
  }
  return "same";
}

/** At most this many revoked key ids are remembered (enough to name the reason in an error). */
export const MAX_REVOKED = 64;

/**
 * Key ids no longer trusted after moving from `previous` to `next`: those `previous` listed (or had
 * already revoked) that `next` does not list. A key listed again by a later set is trusted again.
 */
export function revokedAfter(
  previous: KeysetPayload | null,
  previousRevoked: readonly string[],
  next: KeysetPayload,
): string[] {
  const listed = new Set(next.keys.map((k) => k.keyId));
  const out = new Set<string>();
  for (const id of [...previousRevoked, ...(previous?.keys.map((k) => k.keyId) ?? [])]) {
    if (!listed.has(id)) out.add(id);
  }
  return [...out].slice(-MAX_REVOKED);
}
