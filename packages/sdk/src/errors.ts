/**
 * Stable codes of {@link UpdraftError}. Branch on these, never on messages.
 *
 * Answer verification (a check answer is refused as a whole):
 * - `SIGNATURE_INVALID`: no `Updraft-Signature`, or it does not verify over the exact body bytes with
 *   the named key, or the body's `keyId` is not the key that signed it.
 * - `KEY_UNKNOWN`: the signing key is in no trusted key set, even after fetching the newest one.
 * - `KEY_REVOKED`: the signing key was listed by an older trusted key set and dropped by a newer one.
 * - `KEY_EXPIRED`: the signing key is outside its validity window (`notBefore`/`notAfter`, e.g. a
 *   rotation overlap that has ended) at the answer's `issuedAt` or at the local clock, skew allowed.
 * - `KEY_NOT_YET_VALID`: the signing key's `notBefore` is after the answer's `issuedAt` or the local
 *   clock, skew allowed.
 * - `ANSWER_EXPIRED`: the local clock is past `expiresAt` (plus skew).
 * - `ANSWER_NOT_YET_VALID`: `issuedAt` is further in the future than the skew allows.
 * - `NONCE_MISMATCH`: the answer's nonce is not the one this check sent (a replay).
 * - `WRONG_TARGET`: `appId`, `env` or `deviceId` differ from the request's.
 * - `RESULTS_MISMATCH`: not exactly one result per asked mini program, in request order.
 * - `MALFORMED_ANSWER`: a verified body that is not a well-formed answer.
 *
 * Key sets (service key rotation):
 * - `KEYSET_INVALID`: a key set whose root signatures do not reach the threshold, or that does not parse.
 * - `KEYSET_ROLLBACK`: a key set with a lower version than the trusted one.
 * - `KEYSET_CONFLICT`: a key set with the trusted version but another payload.
 * - `KEYSET_EXPIRED`: the only key set available is past its `expiresAt`.
 *
 * Installing a result (the installed version is kept; the version is recorded as failed):
 * - `DOWNGRADE_REFUSED`: a lower (or the same, with other bytes) version without a signed rollback
 *   whose sequence is above the installed one.
 * - `PUBLISHER_SIGNATURE_MISSING`: no publisher signature (and unsigned results are not allowed).
 * - `PUBLISHER_SIGNATURE_UNTRUSTED`: signed with a publisher key the host app does not pin.
 * - `PUBLISHER_SIGNATURE_INVALID`: the signature does not verify over the package statement.
 * - `MANIFEST_MISSING`: the result names no manifest, so files cannot be verified one by one.
 * - `SIZE_EXCEEDED`: more bytes than signed arrived (download aborted), for a package or a manifest.
 * - `HASH_MISMATCH`: the package's sha256 is not the signed one.
 * - `MANIFEST_MISMATCH`: the manifest's sha256 or form is wrong, or the unpacked files differ from it
 *   (an extra, missing, resized or altered file).
 * - `PACKAGE_INVALID`: the package is not a zip archive the SDK can read, or holds an unsafe path.
 *
 * Transport and environment (nothing recorded; try again later):
 * - `NETWORK_ERROR`: the HTTP adapter failed (after retries).
 * - `HTTP_ERROR`: an unexpected status (`status` says which; 4xx are never retried).
 * - `DOWNLOAD_INCOMPLETE`: the download kept ending early; the bytes received are kept for resuming.
 * - `STORAGE_ERROR`: the storage adapter failed.
 * - `NO_RANDOM_SOURCE`: no secure random source (give one in the options).
 * - `INVALID_OPTIONS`: the client options are unusable.
 * - `NOT_VERIFIED`: `install` was given a result this client did not verify.
 * - `PATCH_FAILED`: an incremental patch could not be downloaded, applied or verified; never thrown,
 *   only reported through `onWarning` (the install then downloads the full package).
 * - `EVENTS_DROPPED`: device events were discarded unsent: the service refused their batch as
 *   invalid (`cause` is its `HTTP_ERROR`), the queue was full, they were too old to be accepted, or
 *   one could never be valid. Never thrown, only reported through `onWarning`.
 */
export type UpdraftErrorCode =
  | "SIGNATURE_INVALID"
  | "KEY_UNKNOWN"
  | "KEY_REVOKED"
  | "KEY_EXPIRED"
  | "KEY_NOT_YET_VALID"
  | "ANSWER_EXPIRED"
  | "ANSWER_NOT_YET_VALID"
  | "NONCE_MISMATCH"
  | "WRONG_TARGET"
  | "RESULTS_MISMATCH"
  | "MALFORMED_ANSWER"
  | "KEYSET_INVALID"
  | "KEYSET_ROLLBACK"
  | "KEYSET_CONFLICT"
  | "KEYSET_EXPIRED"
  | "DOWNGRADE_REFUSED"
  | "PUBLISHER_SIGNATURE_MISSING"
  | "PUBLISHER_SIGNATURE_UNTRUSTED"
  | "PUBLISHER_SIGNATURE_INVALID"
  | "MANIFEST_MISSING"
  | "SIZE_EXCEEDED"
  | "HASH_MISMATCH"
  | "MANIFEST_MISMATCH"
  | "PACKAGE_INVALID"
  | "NETWORK_ERROR"
  | "HTTP_ERROR"
  | "DOWNLOAD_INCOMPLETE"
  | "STORAGE_ERROR"
  | "NO_RANDOM_SOURCE"
  | "INVALID_OPTIONS"
  | "NOT_VERIFIED"
  | "PATCH_FAILED"
  | "EVENTS_DROPPED";

/**
 * Codes after which `install` records the version as failed (sent in `failed` by later checks, so
 * the service never offers it to this device again): only faults of the signed content itself.
 * Not recorded, so a later check may offer the version again:
 * - bytes that do not match what was signed (`HASH_MISMATCH`, `SIZE_EXCEEDED`): a download path (a
 *   CDN, a proxy) could otherwise block a version on a device without holding any key;
 * - `DOWNGRADE_REFUSED`: about the order of releases, not the version;
 * - `PUBLISHER_SIGNATURE_UNTRUSTED`: depends on the keys this app pins, which an app update changes;
 * - `MANIFEST_MISSING`: the service can add a manifest later (docs/publishing.md).
 */
export const VERSION_FAILURE_CODES: ReadonlySet<UpdraftErrorCode> = new Set<UpdraftErrorCode>([
  "PUBLISHER_SIGNATURE_MISSING",
  "PUBLISHER_SIGNATURE_INVALID",
  "MANIFEST_MISMATCH",
  "PACKAGE_INVALID",
]);

/** The one error type the SDK throws: a stable `code`, a message for people, and optional details. */
export class UpdraftError extends Error {
  readonly code: UpdraftErrorCode;
  /** The HTTP status, for `HTTP_ERROR`. */
  readonly status: number | undefined;
  /** The problem `code` of an error response (docs/protocol.md §3), for `HTTP_ERROR`. */
  readonly problemCode: string | undefined;
  /** For retryable failures: the wait the service asked for (Retry-After), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: UpdraftErrorCode,
    message: string,
    extra: { status?: number; problemCode?: string; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "UpdraftError";
    this.code = code;
    this.status = extra.status;
    this.problemCode = extra.problemCode;
    this.retryAfterMs = extra.retryAfterMs;
  }
}

/** Whether `error` is an {@link UpdraftError}, optionally with `code`. */
export function isUpdraftError(error: unknown, code?: UpdraftErrorCode): error is UpdraftError {
  return error instanceof UpdraftError && (code === undefined || error.code === code);
}
