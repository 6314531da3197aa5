// A check answer: its shape, and the checks that make it trustworthy once its signature verified.
import { keyValidAt, type ServiceKey } from "./canonical.ts";
import { UpdraftError } from "./errors.ts";

/** How the host app applies an update (docs/protocol.md §1.2): see {@link updateModePolicy}. */
export type UpdateMode = "sync" | "async" | "default";

/** Where a version's bytes are and what they must be (all of it covered by the answer's signature). */
export interface PackageRef {
  /** Absolute URL of the zip; download from it as given (it may be a CDN). */
  url: string;
  /** Lower-case hex sha256 of the zip. */
  sha256: string;
  /** Size of the zip in bytes: a download is cut off past it. */
  size: number;
  /** Absolute URL of the manifest text; null only for versions uploaded before manifests. */
  manifestUrl: string | null;
  /** Hex sha256 of the manifest text; null with `manifestUrl`. */
  manifestSha256: string | null;
}

/** An incremental patch from the installed package to this version's (docs/protocol.md, patches). */
export interface PatchRef {
  /** Absolute URL of the patch bytes. */
  url: string;
  sha256: string;
  /** A download is cut off past it. */
  size: number;
  /** The installed package it applies to (what this client reported). */
  baseSha256: string;
  /** One of the formats this client declared. */
  format: string;
}

/** A result that moves the device to a version. */
export interface UpdateResult {
  readonly id: string;
  readonly action: "update" | "rollback";
  readonly version: string;
  readonly releaseId: string;
  /** The release's sequence on the (app, env); a rollback's is above the releases before it. */
  readonly sequence: number;
  readonly updateMode: UpdateMode;
  readonly package: Readonly<PackageRef>;
  /** Present when the service has a patch from the installed package; the package stays the fallback. */
  readonly patch: Readonly<PatchRef> | null;
  /** The publisher's signature of the package statement (base64url), or null when uploaded unsigned. */
  readonly signature: string | null;
  /** The publisher key id the signature verifies with, or null. */
  readonly publisherKeyId: string | null;
  /** The release's configuration, as the service merged it. */
  readonly config: unknown;
}

/** A result with nothing to install: `none`, or `removed` (docs/protocol.md §1.2). */
export type NoUpdateResult =
  | { readonly id: string; readonly action: "none" }
  | { readonly id: string; readonly action: "removed" };

export type CheckResult = UpdateResult | NoUpdateResult;

/** A verified check answer. */
export interface CheckAnswer {
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly nonce: string | null;
  readonly keyId: string;
  /** The version of the key set the service publishes, or null when it publishes none. */
  readonly keysetVersion: number | null;
  readonly appId: string;
  readonly env: string;
  readonly deviceId: string;
  /** One per asked mini program, in the order asked. */
  readonly results: readonly CheckResult[];
}

/** What the answer must match: the request it answers. */
export interface AnswerExpectation {
  appId: string;
  env: string;
  deviceId: string;
  nonce: string;
  ids: readonly string[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/i;
const MODES: ReadonlySet<string> = new Set(["sync", "async", "default"]);

const malformed = (what: string) => new UpdraftError("MALFORMED_ANSWER", `The answer is malformed: ${what}.`);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isTime = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isSize = isTime;
const str = (v: unknown): v is string => typeof v === "string";
const strOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";

function parsePackage(v: unknown, at: string): PackageRef {
  if (!isObject(v)) throw malformed(`${at}.package is not an object`);
  const { url, sha256, size, manifestUrl, manifestSha256 } = v;
  if (!str(url) || !HTTP_URL.test(url)) throw malformed(`${at}.package.url is not an absolute URL`);
  if (!str(sha256) || !HEX64.test(sha256)) throw malformed(`${at}.package.sha256 is not a hex sha256`);
  if (!isSize(size)) throw malformed(`${at}.package.size is not a size`);
  // Absent (an older service) reads as null: the version then has no manifest to verify files with.
  const mUrl = manifestUrl ?? null;
  const mSha = manifestSha256 ?? null;
  if (mUrl !== null && (!str(mUrl) || !HTTP_URL.test(mUrl))) throw malformed(`${at}.package.manifestUrl is invalid`);
  if (mSha !== null && (!str(mSha) || !HEX64.test(mSha))) throw malformed(`${at}.package.manifestSha256 is invalid`);
  if ((mUrl === null) !== (mSha === null)) throw malformed(`${at}.package names only half of its manifest`);
  return { url, sha256, size, manifestUrl: mUrl, manifestSha256: mSha };
}

function parsePatchRef(v: unknown, at: string): PatchRef | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw malformed(`${at}.patch is not an object`);
  const { url, sha256, size, baseSha256, format } = v;
  if (!str(url) || !HTTP_URL.test(url)) throw malformed(`${at}.patch.url is not an absolute URL`);
  if (!str(sha256) || !HEX64.test(sha256)) throw malformed(`${at}.patch.sha256 is not a hex sha256`);
  if (!isSize(size)) throw malformed(`${at}.patch.size is not a size`);
  if (!str(baseSha256) || !HEX64.test(baseSha256)) throw malformed(`${at}.patch.baseSha256 is not a hex sha256`);
  if (!str(format) || format.length < 1 || format.length > 32) throw malformed(`${at}.patch.format is invalid`);
  return { url, sha256, size, baseSha256, format };
}

function parseResult(v: unknown, at: string): CheckResult {
  if (!isObject(v)) throw malformed(`${at} is not an object`);
  const { id, action } = v;
  if (!str(id)) throw malformed(`${at}.id is not a string`);
  if (action === "none" || action === "removed") return { id, action };
  if (action !== "update" && action !== "rollback") throw malformed(`${at}.action is unknown`);
  const { version, releaseId, sequence, updateMode, signature, publisherKeyId, config } = v;
  if (!str(version) || version === "") throw malformed(`${at}.version is not a version`);
  if (!str(releaseId)) throw malformed(`${at}.releaseId is not a string`);
  if (!isSize(sequence)) throw malformed(`${at}.sequence is not a sequence number`);
  if (!str(updateMode) || !MODES.has(updateMode)) throw malformed(`${at}.updateMode is unknown`);
  if (!strOrNull(signature) || !strOrNull(publisherKeyId)) throw malformed(`${at}'s publisher signature is invalid`);
  return {
    id,
    action,
    version,
    releaseId,
    sequence,
    updateMode: updateMode as UpdateMode,
    package: parsePackage(v.package, at),
    patch: parsePatchRef(v.patch, at),
    signature,
    publisherKeyId,
    config: config ?? null,
  };
}

/** The answer in a (verified) body text, or `MALFORMED_ANSWER`. Unknown fields are ignored. */
export function parseAnswer(text: string): CheckAnswer {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed("not JSON");
  }
  if (!isObject(value)) throw malformed("not an object");
  const { issuedAt, expiresAt, nonce, keyId, keysetVersion, appId, env, deviceId, results } = value;
  if (!isTime(issuedAt) || !isTime(expiresAt)) throw malformed("issuedAt/expiresAt are not times");
  if (expiresAt < issuedAt) throw malformed("expiresAt is before issuedAt");
  if (!strOrNull(nonce)) throw malformed("nonce is not a string");
  if (!str(keyId)) throw malformed("keyId is not a string");
  const ksv = keysetVersion ?? null;
  if (ksv !== null && !(Number.isSafeInteger(ksv) && (ksv as number) >= 1)) throw malformed("keysetVersion is invalid");
  if (!str(appId) || !str(env) || !str(deviceId)) throw malformed("appId/env/deviceId are missing");
  if (!Array.isArray(results)) throw malformed("results is not a list");
  return {
    issuedAt,
    expiresAt,
    nonce,
    keyId,
    keysetVersion: ksv as number | null,
    appId,
    env,
    deviceId,
    results: results.map((r, i) => parseResult(r, `results[${i}]`)),
  };
}

/**
 * Checks a verified answer against the key that signed it, the clock and the request: the key is
 * valid at `issuedAt` and now (`KEY_EXPIRED`, `KEY_NOT_YET_VALID`), the answer is current
 * (`ANSWER_EXPIRED`, `ANSWER_NOT_YET_VALID`), answers this very request (`NONCE_MISMATCH`,
 * `WRONG_TARGET`) and every asked mini program once, in order (`RESULTS_MISMATCH`). `skewMs` is the
 * tolerance between the local clock and the service's, applied at every time comparison.
 */
export function checkAnswer(
  answer: CheckAnswer,
  key: ServiceKey,
  expected: AnswerExpectation,
  now: number,
  skewMs: number,
): void {
  for (const at of [answer.issuedAt, now]) {
    if (!keyValidAt(key, at, skewMs)) {
      const early = key.notBefore !== null && at < key.notBefore - skewMs;
      throw new UpdraftError(
        early ? "KEY_NOT_YET_VALID" : "KEY_EXPIRED",
        early
          ? `Key ${key.keyId} is not valid yet (notBefore ${key.notBefore}).`
          : `Key ${key.keyId} is no longer valid (notAfter ${key.notAfter}).`,
      );
    }
  }
  if (now > answer.expiresAt + skewMs) {
    throw new UpdraftError("ANSWER_EXPIRED", `The answer expired at ${answer.expiresAt} (now ${now}).`);
  }
  if (answer.issuedAt > now + skewMs) {
    throw new UpdraftError("ANSWER_NOT_YET_VALID", `The answer is issued at ${answer.issuedAt}, ahead of ${now}.`);
  }
  if (answer.nonce !== expected.nonce) throw new UpdraftError("NONCE_MISMATCH", "The answer is for another check.");
  for (const field of ["appId", "env", "deviceId"] as const) {
    if (answer[field] !== expected[field]) {
      throw new UpdraftError("WRONG_TARGET", `The answer's ${field} is not the one asked about.`);
    }
  }
  const ids = expected.ids;
  if (answer.results.length !== ids.length || answer.results.some((r, i) => r.id !== ids[i])) {
    throw new UpdraftError("RESULTS_MISMATCH", "The answer does not give one result per asked mini program, in order.");
  }
}
