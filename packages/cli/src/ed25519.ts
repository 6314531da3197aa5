// Ed25519 keys with node:crypto: generation, PEM files, raw base64url public keys, key ids, signing
// and verifying. Key ids (publisher and root keys alike) are the first 16 hex digits of the sha256
// of the raw 32-byte public key.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { KEY_ID_LENGTH } from "@updraft/sdk/canonical";
import { describeSystemError, localError } from "./errors.ts";

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;
/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface KeyPair {
  privateKey: KeyObject;
  /** base64url (no padding) of the raw 32-byte public key. */
  publicKey: string;
  keyId: string;
}

/** Whether text is a base64url raw 32-byte key (43 characters, no padding). */
export const isRawKey = (text: string) => B64URL_32.test(text);

/** The key id of a base64url raw public key. */
export function keyIdOf(publicKey: string): string {
  return createHash("sha256").update(Buffer.from(publicKey, "base64url")).digest("hex").slice(0, KEY_ID_LENGTH);
}

/** The base64url raw public key of a private or public Ed25519 KeyObject. */
export function rawPublicKeyOf(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: "jwk" });
  if (jwk.crv !== "Ed25519" || typeof jwk.x !== "string") throw localError("the key is not an Ed25519 key");
  return jwk.x;
}

function pairOf(privateKey: KeyObject): KeyPair {
  const publicKey = rawPublicKeyOf(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export function generateKeyPair(): KeyPair {
  return pairOf(generateKeyPairSync("ed25519").privateKey);
}

/** A private key from a 32-byte seed given as base64url (what SIGNING_KEY_SEED holds). */
export function privateKeyFromSeed(seed: string): KeyObject {
  const raw = Buffer.from(seed, "base64url");
  if (!isRawKey(seed) || raw.length !== 32) throw localError("a seed must be base64url of 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, raw]), format: "der", type: "pkcs8" });
}

export function publicKeyFromRaw(publicKey: string): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" });
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw localError(`cannot read ${what} ${file}: ${describeSystemError(error)}`);
  }
}

/** A private key file: PKCS#8 PEM (what keygen writes), or a base64url 32-byte seed on one line. */
export function readPrivateKey(file: string, what = "the key file"): KeyPair {
  const text = readText(file, what);
  let key: KeyObject;
  try {
    key = text.includes("-----BEGIN") ? createPrivateKey(text) : privateKeyFromSeed(text.trim());
  } catch {
    throw localError(`${what} ${file} is not an Ed25519 private key (PKCS#8 PEM or a base64url seed)`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw localError(`${what} ${file} is not an Ed25519 key`);
  return pairOf(key);
}

/**
 * The public key in a file: a PEM private or public key, a base64url seed, or a base64url raw
 * public key. A 43-character base64url line is ambiguous (a seed or a public key): it is read as a
 * seed, since that is what a "seed file" holds; pass a public key on the command line instead.
 */
export function readPublicKey(file: string, what = "the key file"): string {
  const text = readText(file, what);
  try {
    if (text.includes("-----BEGIN PUBLIC KEY-----")) return rawPublicKeyOf(createPublicKey(text));
  } catch {
    throw localError(`${what} ${file} is not an Ed25519 public key`);
  }
  return readPrivateKey(file, what).publicKey;
}

/**
 * Writes a private key as PKCS#8 PEM, readable by its owner only (0600). Refuses to overwrite an
 * existing file; a missing directory is created 0700.
 */
export function writePrivateKey(file: string, key: KeyObject): void {
  const pem = key.export({ format: "pem", type: "pkcs8" }) as string;
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    fd = openSync(file, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw localError(`${file} already exists; refusing to overwrite a key (choose another --out)`);
    }
    throw localError(`cannot write ${file}: ${describeSystemError(error)}`);
  }
  try {
    writeSync(fd, pem);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
}

/** base64url (no padding) Ed25519 signature of the UTF-8 bytes of `text` (or of `bytes`). */
export function signText(key: KeyObject, text: string | Uint8Array): string {
  const data = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  return sign(null, data, key).toString("base64url");
}

/** Whether `signature` (base64url) is a valid Ed25519 signature of `text` by the raw public key. */
export function verifyText(publicKey: string, text: string | Uint8Array, signature: string): boolean {
  const data = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  try {
    return verify(null, data, publicKeyFromRaw(publicKey), Buffer.from(signature, "base64url"));
  } catch {
    return false;
  }
}
