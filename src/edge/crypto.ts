import { Buffer } from "node:buffer";
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as signBytes,
  verify as verifyBytes,
} from "node:crypto";
import type { Hasher, Ids, Signer } from "../usecases/ports";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

function randomBase32(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

export const randomIds: Ids = {
  // 20 base32 characters = 100 bits: collisions are not a practical concern.
  id: (prefix) => `${prefix}_${randomBase32(20)}`,
  // 32 base32 characters = 160 bits of secret.
  token: () => `upd_${randomBase32(32)}`,
  invite: () => `updi_${randomBase32(32)}`,
};

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromBase64Url(text: string): Uint8Array | null {
  try {
    const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export const webCryptoHasher: Hasher = {
  async sha256Hex(data) {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return toHex(await crypto.subtle.digest("SHA-256", bytes));
  },
};

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): a fixed 16-byte prefix.
const PKCS8_ED25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * Ed25519 signer from a base64url 32-byte seed, through `node:crypto` (nodejs_compat): one
 * synchronous call per answer with a native base64url encoding, which measured a little cheaper than
 * WebCrypto's promise and a JavaScript encoder (docs/performance.md). The key object is created once
 * per isolate. Signatures are the same bytes as WebCrypto's (Ed25519 is deterministic; tested).
 */
export function ed25519Signer(seedB64: string, keyId: string): Signer | null {
  const seed = fromBase64Url(seedB64);
  if (seed === null || seed.length !== 32) return null;
  const pkcs8 = Buffer.alloc(48);
  pkcs8.set(PKCS8_ED25519_PREFIX);
  pkcs8.set(seed, 16);
  let key: KeyObject | null = null;
  const privateKey = () => {
    key ??= createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    return key;
  };
  return {
    keyId,
    async sign(bytes) {
      return signBytes(null, bytes, privateKey()).toString("base64url");
    },
    publicKey() {
      return createPublicKey(privateKey()).export({ format: "jwk" }).x ?? "";
    },
  };
}

/**
 * Ed25519 verification through `node:crypto` (synchronous). False for a key or signature that is
 * not well-formed (a raw key must be 32 bytes, a signature 64, both base64url), never a throw.
 */
export function verifyEd25519(publicKeyB64: string, message: Uint8Array, signatureB64: string): boolean {
  const raw = fromBase64Url(publicKeyB64);
  const signature = fromBase64Url(signatureB64);
  if (raw === null || raw.length !== 32 || signature === null || signature.length !== 64) return false;
  try {
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKeyB64 }, format: "jwk" });
    return verifyBytes(null, message, key, signature);
  } catch {
    return false;
  }
}
