/**
 * The closed list of error codes Updraft reports. Every failure a caller can see carries
 * exactly one of these; `http/problem.ts` maps each to its HTTP status in one exhaustive table.
 */
export const ERROR_CODES = [
  "MALFORMED_JSON",
  "VALIDATION_FAILED",
  "UNSUPPORTED_MEDIA_TYPE",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "ROUTE_NOT_FOUND",
  "METHOD_NOT_ALLOWED",
  "CONFLICT",
  "LAST_ADMIN",
  "VERSION_CONFLICT",
  "VERSION_IN_USE",
  "LIST_IN_USE",
  "RELEASE_NOT_DELETABLE",
  "RELEASE_NOT_PREVIEWABLE",
  "TARGET_IN_USE",
  "FEATURE_IN_USE",
  "MINI_PROGRAM_REMOVED",
  "PUBLISHER_SIGNATURE_REQUIRED",
  "PUBLISHER_SIGNATURE_INVALID",
  "PUBLISHER_KEY_UNKNOWN",
  "PUBLISHER_KEY_REVOKED",
  "INVALID_TRANSITION",
  "PAYLOAD_TOO_LARGE",
  "INVALID_PACKAGE",
  "SNAPSHOT_TOO_LARGE",
  "CHECK_TOO_LARGE",
  "REGEX_BUDGET_EXCEEDED",
  "SCOPE_TOO_WIDE",
  "UPDATE_MODE_NOT_ALLOWED",
  "INVALID_EXPIRY",
  "RATE_LIMITED",
  "RANGE_NOT_SATISFIABLE",
  "SERVICE_MISCONFIGURED",
  "SERVICE_UNAVAILABLE",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Field errors reported at most by any validation: a body of 60,000 bad entries must not get a 5 MB answer. */
export const MAX_FIELD_ERRORS = 20;

/** One field-level problem: a JSON pointer into the request and a message that never echoes input. */
export interface FieldError {
  pointer: string;
  message: string;
}

/**
 * An expected failure with a stable code. `detail` is written by us, never copied from input.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[] | undefined;
  /** Seconds the caller should wait before retrying (sent as Retry-After), when it matters. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, detail: string, errors?: FieldError[], retryAfter?: number) {
    super(detail);
    this.name = "AppError";
    this.code = code;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }
}
