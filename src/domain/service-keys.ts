import { parseKeysetPayload, parseSignedKeyset, type ServiceKey, type SignedKeyset } from "@updraft/sdk/canonical";
import { fromBase64url } from "./publisher";

/**
 * The service's verification keys as `GET /v1/keys` publishes them, and the key set version every
 * check answer names (docs/key-rotation.md). With a key set (signed offline by a root key) the keys
 * and their validity windows are the key set's; without one, only the signing key, with no window
 * (trust on first use: not for production).
 */
export interface ServiceKeys {
  keys: ServiceKey[];
  keyset: SignedKeyset | null;
  /** The key set's version, or null without a key set. */
  version: number | null;
  /**
   * From when to when answers signed now verify on devices: the signing key's window, cut short by
   * the key set's expiry (Unix ms; null: open). Outside it the service must not answer.
   */
  signsFrom: number | null;
  signsUntil: number | null;
}

/** Why answers signed at `now` would not verify on devices, or null when they would. */
export function signingRefusal(keys: ServiceKeys, now: number): string | null {
  if (keys.signsFrom !== null && now < keys.signsFrom) {
    return "The signing key's validity window in SIGNING_KEYSET has not started yet.";
  }
  if (keys.signsUntil !== null && now > keys.signsUntil) {
    return "The signing key's validity window in SIGNING_KEYSET, or the key set itself, has expired: rotate (docs/key-rotation.md).";
  }
  return null;
}

/**
 * Reads the SIGNING_KEYSET setting (the JSON text of a signed key set, or that text base64url-encoded)
 * against the signing key. Returns a sentence saying what is wrong when the setting cannot be read or
 * does not list the signing key with its public key: answers devices could never verify must not go
 * out. The root signatures are not checked here: only devices know which root keys they trust.
 */
export function serviceKeysFrom(
  signer: { keyId: string; publicKey: string } | null,
  setting: string | undefined,
): ServiceKeys | string {
  if (setting === undefined || setting.trim() === "") {
    const keys: ServiceKey[] =
      signer === null
        ? []
        : [{ keyId: signer.keyId, alg: "Ed25519", publicKey: signer.publicKey, notBefore: null, notAfter: null }];
    return { keys, keyset: null, version: null, signsFrom: null, signsUntil: null };
  }
  const text = setting.trim();
  let value: unknown;
  try {
    value = JSON.parse(text.startsWith("{") ? text : decodeBase64Url(text));
  } catch {
    return "SIGNING_KEYSET is neither the JSON of a signed key set nor that JSON in base64url.";
  }
  const keyset = parseSignedKeyset(value);
  if (typeof keyset === "string") return `SIGNING_KEYSET: ${keyset}.`;
  const payload = parseKeysetPayload(keyset.payload);
  if (typeof payload === "string") return `SIGNING_KEYSET: ${payload}.`;
  const listed = signer === null ? undefined : payload.keys.find((k) => k.keyId === signer.keyId);
  if (signer !== null) {
    if (listed === undefined) return `SIGNING_KEYSET does not list the signing key ${signer.keyId}.`;
    if (listed.publicKey !== signer.publicKey) {
      return `SIGNING_KEYSET lists another public key for the signing key ${signer.keyId}.`;
    }
  }
  const until = [listed?.notAfter ?? null, payload.expiresAt].filter((t): t is number => t !== null);
  return {
    keys: payload.keys,
    keyset,
    version: payload.version,
    signsFrom: listed?.notBefore ?? null,
    signsUntil: until.length === 0 ? null : Math.min(...until),
  };
}

function decodeBase64Url(text: string): string {
  const bytes = fromBase64url(text);
  if (bytes === null) throw new SyntaxError("not base64url");
  return new TextDecoder().decode(bytes);
}
