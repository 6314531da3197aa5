import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { PreviewClaims } from "../domain/preview";
import type { PreviewTokens } from "../usecases/ports";
import { fromBase64Url } from "./crypto";

/** Bytes of HMAC kept in a token: 128 bits, so a link stays short enough for a small QR code. */
const MAC_BYTES = 16;
const CODE_ID = /^qr_[0-9a-z]{1,40}$/;
const EXPIRY = /^[0-9a-z]{1,9}$/;
const HASH = /^[0-9a-f]{32}$/;

/**
 * Preview tokens under a key derived from the service's Ed25519 seed (HMAC of a fixed label), so no
 * second secret has to be managed; rotating the signing key invalidates every outstanding QR code,
 * which docs/preview.md says. Null when the seed is missing or malformed.
 */
export function hmacPreviewTokens(seedB64: string | undefined): PreviewTokens | null {
  const seed = seedB64 === undefined ? null : fromBase64Url(seedB64);
  if (seed === null || seed.length !== 32) return null;
  const key = createHmac("sha256", seed).update("updraft preview tokens v1").digest();
  const mac = (body: string) => createHmac("sha256", key).update(body).digest().subarray(0, MAC_BYTES);
  return {
    mint({ codeId, expiresAt, hash }) {
      const body = `${codeId}.${expiresAt.toString(36)}.${hash}`;
      return `${body}.${mac(body).toString("base64url")}`;
    },
    verify(token) {
      const parts = token.split(".");
      if (parts.length !== 4) return null;
      const [codeId, expiry, hash, sig] = parts as [string, string, string, string];
      if (!CODE_ID.test(codeId) || !EXPIRY.test(expiry) || !HASH.test(hash)) return null;
      const given = Buffer.from(sig, "base64url");
      if (given.length !== MAC_BYTES) return null;
      if (!timingSafeEqual(given, mac(`${codeId}.${expiry}.${hash}`))) return null;
      return { codeId, expiresAt: Number.parseInt(expiry, 36), hash } satisfies PreviewClaims;
    },
  };
}
