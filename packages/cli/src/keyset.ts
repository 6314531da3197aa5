// Signed key sets (service key rotation): the offline root role builds and signs them, anyone
// verifies them against a root public key. The shapes and the signed bytes are the SDK's
// (parseKeysetPayload, parseSignedKeyset, keysetSigningText); this file only assembles and checks.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  type KeysetPayload,
  keysetSigningText,
  parseKeysetPayload,
  parseSignedKeyset,
  type ServiceKey,
  type SignedKeyset,
} from "@updraft/sdk/canonical";
import { isRawKey, type KeyPair, keyIdOf, readPublicKey, signText, verifyText } from "./ed25519.ts";
import { CliError, describeSystemError, EXIT, localError, usageError } from "./errors.ts";

/**
 * A time given on the command line or in a keys file: an ISO 8601 date-time (`2026-05-01T00:00:00Z`;
 * a date alone is midnight UTC) or Unix milliseconds. Returns Unix ms.
 */
export function parseTime(value: string, what: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) throw usageError(`${what}: "${value}" is not an ISO 8601 time or Unix ms`);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw usageError(`${what}: "${value}" is not a valid time`);
  return ms;
}

/** A key value: a base64url raw public key, or a file (PEM, or a base64url seed) to take it from. */
function publicKeyFrom(value: string, baseDir: string, what: string): string {
  if (isRawKey(value)) return value;
  if (value === "") throw usageError(`${what}: no public key or seed file given`);
  return readPublicKey(resolve(baseDir, value), `${what}: the file`);
}

/**
 * One `--key` argument: `<keyId>=<publicKey|seed-file>[,notBefore=<time>][,notAfter=<time>]`. A
 * value that is 43 base64url characters is a public key; anything else names a file.
 */
export function parseKeySpec(spec: string, cwd: string): ServiceKey {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw usageError(`--key "${spec}": expected <keyId>=<publicKey|seed-file>[,notBefore=…][,notAfter=…]`);
  const keyId = spec.slice(0, eq);
  const [value = "", ...options] = spec.slice(eq + 1).split(",");
  const key: ServiceKey = {
    keyId,
    alg: "Ed25519",
    publicKey: publicKeyFrom(value, cwd, `--key ${keyId}`),
    notBefore: null,
    notAfter: null,
  };
  for (const option of options) {
    const [name, time] = option.split(/=(.*)/s, 2) as [string, string | undefined];
    if (time === undefined || (name !== "notBefore" && name !== "notAfter")) {
      throw usageError(`--key ${keyId}: unknown option "${option}" (expected notBefore=<time> or notAfter=<time>)`);
    }
    key[name] = parseTime(time, `--key ${keyId} ${name}`);
  }
  return key;
}

function timeField(value: unknown, what: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "number") return value;
  if (typeof value === "string") return parseTime(value, what);
  throw usageError(`${what} must be Unix ms, an ISO 8601 time or null`);
}

/**
 * A keys file: a JSON array of `{keyId, publicKey | seedFile, notBefore?, notAfter?}`, or an object
 * with such a `keys` array. Times are Unix ms, ISO 8601 text or null; a `seedFile` is relative to the
 * keys file. A signed key set (`{payload, signatures}`, what `keys sign` wrote) or an answer of
 * GET /v1/keys gives the keys of its signed payload, never the answer's unsigned `keys` copy.
 */
export function readKeysFile(file: string): ServiceKey[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    if (error instanceof SyntaxError) throw localError(`${file} is not JSON`);
    throw localError(`cannot read ${file}: ${describeSystemError(error)}`);
  }
  const object = (value ?? {}) as { keys?: unknown; keyset?: { payload?: unknown }; payload?: unknown };
  const signedPayload = typeof object.payload === "string" ? object.payload : object.keyset?.payload;
  if (!Array.isArray(value) && (typeof signedPayload === "string" || object.keyset === null)) {
    if (typeof signedPayload !== "string")
      throw localError(`${file}: the key set is null (the service publishes none)`);
    const payload = parseKeysetPayload(signedPayload);
    if (typeof payload === "string") throw localError(`${file}: the signed payload is not a key set: ${payload}`);
    return payload.keys;
  }
  const list = Array.isArray(value) ? value : object.keys;
  if (!Array.isArray(list)) throw localError(`${file}: expected an array of keys or an object with a "keys" array`);
  return list.map((entry, i) => {
    const k = (entry ?? {}) as Record<string, unknown>;
    const what = `${file}: keys[${i}]`;
    if (typeof k.keyId !== "string") throw localError(`${what}: keyId must be a string`);
    if (k.alg !== undefined && k.alg !== "Ed25519") throw localError(`${what}: alg must be "Ed25519"`);
    let publicKey: string;
    if (typeof k.publicKey === "string") publicKey = k.publicKey;
    else if (typeof k.seedFile === "string") publicKey = publicKeyFrom(k.seedFile, dirname(file), what);
    else throw localError(`${what}: give publicKey or seedFile`);
    return {
      keyId: k.keyId,
      alg: "Ed25519" as const,
      publicKey,
      notBefore: timeField(k.notBefore, `${what}.notBefore`),
      notAfter: timeField(k.notAfter, `${what}.notAfter`),
    };
  });
}

/** The payload text with its fields in the documented order, validated by the SDK's parser. */
export function payloadText(payload: KeysetPayload): string {
  const text = JSON.stringify({
    type: payload.type,
    version: payload.version,
    issuedAt: payload.issuedAt,
    expiresAt: payload.expiresAt,
    keys: payload.keys.map((k) => ({
      keyId: k.keyId,
      alg: k.alg,
      publicKey: k.publicKey,
      notBefore: k.notBefore,
      notAfter: k.notAfter,
    })),
  });
  const parsed = parseKeysetPayload(text);
  if (typeof parsed === "string") throw usageError(`the key set is not valid: ${parsed}`);
  return text;
}

/** The key set signed by every root key: {payload, signatures}. */
export function signKeyset(text: string, roots: readonly KeyPair[]): SignedKeyset {
  const signed = {
    payload: text,
    signatures: roots.map((root) => ({
      keyId: root.keyId,
      signature: signText(root.privateKey, keysetSigningText(text)),
    })),
  };
  const parsed = parseSignedKeyset(signed);
  if (typeof parsed === "string") throw usageError(`the signed key set is not valid: ${parsed}`);
  return parsed;
}

export interface VerifiedKeyset {
  payload: KeysetPayload;
  /** Key ids of the trusted root keys whose signature verified. */
  signedBy: string[];
}

const failed = (message: string) => new CliError(EXIT.VERIFY, `verification failed: ${message}`);

/**
 * Checks a key set against trusted root public keys: its shape, at least one valid signature by one
 * of them, its expiry at `now` and, when given, a minimum version. Accepts a signed key set
 * ({payload, signatures}) or a GET /v1/keys answer ({keys, keyset}), whose `keys` must then be the
 * payload's keys.
 */
export function verifyKeyset(
  value: unknown,
  rootPublicKeys: readonly string[],
  now: number,
  minVersion?: number,
): VerifiedKeyset {
  let signedValue = value;
  let listed: unknown;
  if (typeof value === "object" && value !== null && !("payload" in value) && ("keyset" in value || "keys" in value)) {
    const answer = value as { keyset?: unknown; keys?: unknown };
    if (answer.keyset === null || answer.keyset === undefined) {
      throw failed("the server publishes no signed key set (trust-on-first-use mode, not for production)");
    }
    signedValue = answer.keyset;
    listed = answer.keys;
  }
  const signed = parseSignedKeyset(signedValue);
  if (typeof signed === "string") throw failed(signed);
  const payload = parseKeysetPayload(signed.payload);
  if (typeof payload === "string") throw failed(payload);
  const roots = new Map(rootPublicKeys.map((k) => [keyIdOf(k), k]));
  const signedBy = signed.signatures
    .filter((s) => {
      const root = roots.get(s.keyId);
      return root !== undefined && verifyText(root, keysetSigningText(signed.payload), s.signature);
    })
    .map((s) => s.keyId);
  if (signedBy.length === 0) {
    const named = signed.signatures.map((s) => s.keyId).join(", ");
    throw failed(`no signature verifies with the given root key(s) (signed by: ${named})`);
  }
  if (payload.expiresAt !== null && now > payload.expiresAt) {
    throw failed(`the key set (version ${payload.version}) expired at ${new Date(payload.expiresAt).toISOString()}`);
  }
  if (minVersion !== undefined && payload.version < minVersion) {
    throw failed(`the key set's version ${payload.version} is lower than ${minVersion}`);
  }
  if (Array.isArray(listed)) {
    // The plain list is a convenience copy: every key in it must be in the signed key set, as signed.
    const same = (a: ServiceKey, b: Record<string, unknown>) =>
      a.keyId === b.keyId && a.publicKey === b.publicKey && a.notBefore === b.notBefore && a.notAfter === b.notAfter;
    for (const entry of listed as Record<string, unknown>[]) {
      if (!payload.keys.some((k) => same(k, entry ?? {}))) {
        throw failed(`the answer lists key ${String(entry?.keyId)} differently from its signed key set, or not in it`);
      }
    }
  }
  return { payload, signedBy };
}
