import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, type ErrorCode, type FieldError } from "../domain/errors";

/** One exhaustive table from error code to HTTP status and title. */
export const PROBLEMS: Readonly<Record<ErrorCode, { status: ContentfulStatusCode; title: string }>> = {
  MALFORMED_JSON: { status: 400, title: "Malformed JSON" },
  VALIDATION_FAILED: { status: 400, title: "Validation failed" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  UNAUTHENTICATED: { status: 401, title: "Authentication required" },
  FORBIDDEN: { status: 403, title: "Forbidden" },
  NOT_FOUND: { status: 404, title: "Not found" },
  ROUTE_NOT_FOUND: { status: 404, title: "No such route" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  CONFLICT: { status: 409, title: "Conflict" },
  LAST_ADMIN: { status: 409, title: "Last workspace admin" },
  VERSION_CONFLICT: { status: 409, title: "Version conflict" },
  VERSION_IN_USE: { status: 409, title: "Version in use" },
  LIST_IN_USE: { status: 409, title: "Allowlist in use" },
  RELEASE_NOT_DELETABLE: { status: 409, title: "Release cannot be deleted" },
  RELEASE_NOT_PREVIEWABLE: { status: 409, title: "Release cannot be previewed" },
  TARGET_IN_USE: { status: 409, title: "App or environment in use" },
  FEATURE_IN_USE: { status: 409, title: "Feature in use" },
  MINI_PROGRAM_REMOVED: { status: 409, title: "Mini program removed" },
  PUBLISHER_SIGNATURE_REQUIRED: { status: 422, title: "Publisher signature required" },
  PUBLISHER_SIGNATURE_INVALID: { status: 422, title: "Publisher signature invalid" },
  PUBLISHER_KEY_UNKNOWN: { status: 422, title: "Unknown publisher key" },
  PUBLISHER_KEY_REVOKED: { status: 422, title: "Publisher key revoked" },
  INVALID_TRANSITION: { status: 409, title: "Invalid status transition" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Payload too large" },
  INVALID_PACKAGE: { status: 422, title: "Invalid package" },
  SNAPSHOT_TOO_LARGE: { status: 422, title: "Delivery snapshot too large" },
  CHECK_TOO_LARGE: { status: 422, title: "Check too large" },
  REGEX_BUDGET_EXCEEDED: { status: 422, title: "Regex budget exceeded" },
  SCOPE_TOO_WIDE: { status: 422, title: "Scope wider than its owner" },
  UPDATE_MODE_NOT_ALLOWED: { status: 422, title: "Update mode not allowed" },
  INVALID_EXPIRY: { status: 422, title: "Invalid expiry" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  RANGE_NOT_SATISFIABLE: { status: 416, title: "Range not satisfiable" },
  SERVICE_MISCONFIGURED: { status: 503, title: "Service misconfigured" },
  SERVICE_UNAVAILABLE: { status: 503, title: "Service unavailable" },
  INTERNAL: { status: 500, title: "Internal error" },
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string;
  errors?: FieldError[];
}

export function problemBody(code: ErrorCode, detail: string, requestId: string, errors?: FieldError[]): Problem {
  const { status, title } = PROBLEMS[code];
  const type = `urn:updraft:problem:${code.toLowerCase().replaceAll("_", "-")}`;
  return errors
    ? { type, title, status, detail, code, requestId, errors }
    : { type, title, status, detail, code, requestId };
}

/** The RFC 9457 response for a code; the only way this service reports an error. */
export function problem(
  c: Context,
  code: ErrorCode,
  detail: string,
  errors?: FieldError[],
  headers?: Record<string, string>,
): Response {
  const requestId = (c.get("requestId" as never) as string | undefined) ?? "unknown";
  return problemResponse(requestId, code, detail, errors, headers);
}

/** The same response outside a Hono context (the device check's fast path). */
export function problemResponse(
  requestId: string,
  code: ErrorCode,
  detail: string,
  errors?: FieldError[],
  headers?: Record<string, string>,
): Response {
  const body = problemBody(code, detail, requestId, errors);
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: {
      "content-type": "application/problem+json",
      "cache-control": "no-store",
      "request-id": requestId,
      ...headers,
    },
  });
}

/**
 * What the framework's own HTTPExceptions mean (Hono's body parsing, @hono/zod-openapi's media type
 * gate): the same codes as ours, so none of them can surface as a 500.
 */
const HTTP_EXCEPTIONS: Partial<Record<number, { code: ErrorCode; detail: string }>> = {
  400: { code: "MALFORMED_JSON", detail: "The request body is not valid JSON." },
  413: { code: "PAYLOAD_TOO_LARGE", detail: "The request body is too large." },
  415: { code: "UNSUPPORTED_MEDIA_TYPE", detail: "The request body must be application/json." },
};

/**
 * Any error thrown by a handler as a problem response: AppErrors with their code, Hono's body
 * parse failures as MALFORMED_JSON, anything else as INTERNAL (logged with its stack; the caller
 * only gets the request id).
 */
export function errorResponse(error: unknown, requestId: string): Response {
  if (error instanceof AppError) {
    // A storage outage: the client retries on its next poll, or after a few seconds.
    const seconds = error.retryAfter ?? (error.code === "SERVICE_UNAVAILABLE" ? 5 : undefined);
    const retry = seconds === undefined ? undefined : { "retry-after": String(seconds) };
    return problemResponse(requestId, error.code, error.message, error.errors, retry);
  }
  if (error instanceof HTTPException) {
    const known = HTTP_EXCEPTIONS[error.status];
    if (known !== undefined) return problemResponse(requestId, known.code, known.detail);
  }
  console.error(JSON.stringify({ requestId, error: String(error), stack: (error as Error)?.stack }));
  return problemResponse(
    requestId,
    "INTERNAL",
    "Something went wrong on our side; quote the request id when reporting it.",
  );
}

// Request ids: 16 random hex digits drawn once per isolate, then a counter. Unique without a random
// draw per request (a UUID per request measured about 3 % of a device check's CPU); they are
// identifiers for logs and support, never secrets.
let isolatePrefix = "";
let requestCounter = 0;

/** A fresh request id: `req_` and 32 hex digits (isolate prefix, then a per-isolate counter in decimal). */
export function newRequestId(): string {
  if (isolatePrefix === "") {
    isolatePrefix = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("");
    requestCounter = (crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) >>> 2;
  }
  requestCounter += 1;
  // Decimal digits are hex digits too, and a small integer's decimal form is the cheapest to make.
  return `req_${isolatePrefix}${String(requestCounter).padStart(16, "0")}`;
}
