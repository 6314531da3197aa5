// The canonical texts that are signed or hashed, shared by the service, this SDK and the CLI so the
// three can never disagree on a byte. Pure functions of their input: no I/O, no crypto, no Node API.

/** One file of a package as the manifest lists it. */
export interface ManifestFile {
  /** `/`-separated path inside the package (never a newline). */
  path: string;
  /** Hex sha256 of the file's bytes. */
  sha256: string;
  size: number;
}

/** What a publisher signs for one package: every field on its own line. */
export interface PackageStatement {
  /** The mini program's key (what devices send). */
  miniProgram: string;
  version: string;
  /** Hex sha256 of the package bytes. */
  sha256: string;
  size: number;
  /** Hex sha256 of manifestText(files). */
  manifestSha256: string;
}

/** First line of a statement: the format, so a signature can never be read as another kind. */
export const STATEMENT_HEADER = "updraft-package-statement-v1";

/**
 * The exact text a publisher signs (UTF-8, lines ended by `\n`, no trailing spaces): the header, then
 * `mini-program`, `version`, `sha256`, `size` and `manifest-sha256` lines in that order.
 */
export function statementText(s: PackageStatement): string {
  return (
    `${STATEMENT_HEADER}\n` +
    `mini-program: ${s.miniProgram}\n` +
    `version: ${s.version}\n` +
    `sha256: ${s.sha256}\n` +
    `size: ${s.size}\n` +
    `manifest-sha256: ${s.manifestSha256}\n`
  );
}

/**
 * The canonical form of a file manifest: one line per file, sorted by path (UTF-16 code unit
 * order), `<sha256> <size> <path>\n`. Paths never hold a newline (the service refuses them), so the
 * form is unambiguous, and its sha256 names the manifest (content-addressed beside the package).
 */
export function manifestText(files: readonly ManifestFile[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256} ${f.size} ${f.path}\n`)
    .join("");
}

const MANIFEST_LINE = /^([0-9a-f]{64}) (0|[1-9][0-9]{0,15}) ([^\n]+)$/;

/**
 * Reads a manifest text back into files; null unless it is exactly canonical (every line well formed,
 * paths strictly increasing, the text ending with `\n`), so one manifest has only one text.
 */
export function parseManifest(text: string): ManifestFile[] | null {
  if (text === "") return [];
  if (!text.endsWith("\n")) return null;
  const files: ManifestFile[] = [];
  let previous: string | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    const m = MANIFEST_LINE.exec(line);
    if (m === null) return null;
    const path = m[3] as string;
    if (previous !== null && !(previous < path)) return null;
    previous = path;
    files.push({ sha256: m[1] as string, size: Number(m[2]), path });
  }
  return files;
}

/** Key ids of publisher and root keys: the first 16 hex digits of the sha256 of the raw 32-byte key. */
export const KEY_ID_LENGTH = 16;

/** Prefix of the bytes a root key signs for a key set: the format, then the payload's exact text. */
export const KEYSET_HEADER = "updraft-keyset-v1\n";

/** The bytes a root key signs: KEYSET_HEADER followed by the payload text exactly as published. */
export function keysetSigningText(payload: string): string {
  return KEYSET_HEADER + payload;
}

/** One service key in a key set: the answers it signs verify between notBefore and notAfter. */
export interface ServiceKey {
  keyId: string;
  alg: "Ed25519";
  /** base64url raw 32-byte Ed25519 public key. */
  publicKey: string;
  /** Unix ms from which answers signed with it are valid; null: since ever. */
  notBefore: number | null;
  /** Unix ms after which answers signed with it are refused; null: until a newer key set drops it. */
  notAfter: number | null;
}

/** The signed content of a key set (its `payload` is this as JSON text). */
export interface KeysetPayload {
  type: "updraft-keyset";
  /** Grows with every key set the root signs; a client never goes back to a lower one. */
  version: number;
  issuedAt: number;
  /** Unix ms after which a client must fetch a newer key set before trusting it; null: never. */
  expiresAt: number | null;
  keys: ServiceKey[];
}

/** A key set as published by `GET /v1/keys`: the payload text and the root signatures over it. */
export interface SignedKeyset {
  payload: string;
  signatures: { keyId: string; signature: string }[];
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;
const B64URL_64 = /^[A-Za-z0-9_-]{86}$/;

const isTime = (v: unknown): v is number | null => v === null || (Number.isSafeInteger(v) && (v as number) >= 0);

/**
 * The payload of a key set, validated; a string saying what is wrong otherwise. Checks the shape
 * only: whether the signatures verify is the reader's job (it alone knows the root keys it trusts).
 */
export function parseKeysetPayload(text: string): KeysetPayload | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "the payload is not JSON";
  }
  if (typeof value !== "object" || value === null) return "the payload is not an object";
  const p = value as Record<string, unknown>;
  if (p.type !== "updraft-keyset") return 'the payload\'s type is not "updraft-keyset"';
  if (!Number.isSafeInteger(p.version) || (p.version as number) < 1) return "version must be a positive integer";
  if (!isTime(p.issuedAt) || p.issuedAt === null) return "issuedAt must be a Unix time in ms";
  if (!isTime(p.expiresAt)) return "expiresAt must be a Unix time in ms or null";
  if (!Array.isArray(p.keys) || p.keys.length === 0 || p.keys.length > 32) return "keys must list 1 to 32 keys";
  const keys: ServiceKey[] = [];
  const seen = new Set<string>();
  for (const k of p.keys as unknown[]) {
    if (typeof k !== "object" || k === null) return "every key must be an object";
    const key = k as Record<string, unknown>;
    if (typeof key.keyId !== "string" || !KEY_ID.test(key.keyId)) return "a key has an invalid keyId";
    if (seen.has(key.keyId)) return `key ${key.keyId} is listed twice`;
    seen.add(key.keyId);
    if (key.alg !== "Ed25519") return `key ${key.keyId}: alg must be "Ed25519"`;
    if (typeof key.publicKey !== "string" || !B64URL_32.test(key.publicKey)) {
      return `key ${key.keyId}: publicKey must be a base64url raw 32-byte key`;
    }
    if (!isTime(key.notBefore) || !isTime(key.notAfter))
      return `key ${key.keyId}: notBefore/notAfter must be Unix ms or null`;
    if (key.notBefore !== null && key.notAfter !== null && key.notAfter <= key.notBefore) {
      return `key ${key.keyId}: notAfter must be after notBefore`;
    }
    keys.push({
      keyId: key.keyId,
      alg: "Ed25519",
      publicKey: key.publicKey,
      notBefore: key.notBefore,
      notAfter: key.notAfter,
    });
  }
  return {
    type: "updraft-keyset",
    version: p.version as number,
    issuedAt: p.issuedAt,
    expiresAt: p.expiresAt,
    keys,
  };
}

/** A signed key set's outer shape, validated (not its signatures); a string saying what is wrong otherwise. */
export function parseSignedKeyset(value: unknown): SignedKeyset | string {
  if (typeof value !== "object" || value === null) return "the key set is not an object";
  const v = value as Record<string, unknown>;
  if (typeof v.payload !== "string") return "payload must be a string";
  if (!Array.isArray(v.signatures) || v.signatures.length === 0 || v.signatures.length > 8) {
    return "signatures must list 1 to 8 signatures";
  }
  const signatures: SignedKeyset["signatures"] = [];
  for (const s of v.signatures as unknown[]) {
    const sig = s as Record<string, unknown> | null;
    if (typeof sig?.keyId !== "string" || !KEY_ID.test(sig.keyId)) return "a signature has an invalid keyId";
    if (typeof sig.signature !== "string" || !B64URL_64.test(sig.signature)) {
      return "a signature must be a base64url 64-byte Ed25519 signature";
    }
    signatures.push({ keyId: sig.keyId, signature: sig.signature });
  }
  return { payload: v.payload, signatures };
}

/** Whether `key` may verify an answer issued at `at` (Unix ms), allowing `skewMs` at both ends. */
export function keyValidAt(key: ServiceKey, at: number, skewMs = 0): boolean {
  return (
    (key.notBefore === null || at >= key.notBefore - skewMs) && (key.notAfter === null || at <= key.notAfter + skewMs)
  );
}
