import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { checkUpdates, type RequestOrigin } from "../../usecases/check-updates";
import type { Deps } from "../../usecases/ports";
import { readJsonText } from "../json-body";
import { ConfigSchema, problemResponse, UpdateModeSchema } from "../schemas";
import type { HttpEnv } from "../types";
import { CheckRequest, parseCheckRequest } from "./check-request";

const Result = z
  .object({
    id: z.string(),
    action: z
      .enum(["update", "none", "rollback", "removed"])
      .describe("removed: the mini program was removed; a host app that has it should delete it (docs/protocol.md)."),
    version: z.string().optional(),
    releaseId: z.string().optional(),
    sequence: z
      .number()
      .int()
      .optional()
      .describe(
        "The release's per-target sequence: a client leaves a version for a lower one only through a newer rollback.",
      ),
    updateMode: UpdateModeSchema.optional(),
    package: z
      .object({
        url: z.string(),
        sha256: z.string(),
        size: z.number().int(),
        manifestUrl: z.string().nullable().describe("The canonical manifest text (docs/publishing.md)"),
        manifestSha256: z.string().nullable(),
      })
      .optional(),
    patch: z
      .object({
        url: z.string(),
        sha256: z.string(),
        size: z.number().int(),
        baseSha256: z.string().describe("The installed package this patch applies to (the request's `sha256`)"),
        format: z.string().describe("One of the request's `patchFormats` (docs/protocol.md, incremental patches)"),
      })
      .optional()
      .describe(
        "Present only when a ready patch exists from exactly the installed package, in a declared format, smaller " +
          "than the configured fraction of the package; a client that cannot apply it uses `package`.",
      ),
    signature: z.string().nullable().optional(),
    publisherKeyId: z
      .string()
      .nullable()
      .optional()
      .describe("The publisher key id `signature` verifies with (docs/publishing.md); null when unsigned."),
    config: ConfigSchema.optional(),
  })
  .openapi("CheckResult");

const CheckResponse = z
  .object({
    issuedAt: z.number().int(),
    expiresAt: z.number().int(),
    nonce: z.string().nullable(),
    keyId: z.string(),
    keysetVersion: z.number().int().nullable().describe("The version of the key set at GET /v1/keys; null without one"),
    appId: z.string().describe("The request's, echoed: a client refuses an answer for another app"),
    env: z.string(),
    deviceId: z.string(),
    results: z.array(Result),
  })
  .openapi("CheckResponse");

const checkRoute = createRoute({
  method: "post",
  path: "/check",
  tags: ["device"],
  summary: "Check many mini programs for updates",
  description:
    "One result per requested mini program, in order. The exact body bytes are signed with Ed25519: " +
    "`Updraft-Signature` carries the base64url signature and `Updraft-Key-Id` the key (see GET /v1/keys).",
  request: { body: { content: { "application/json": { schema: CheckRequest } }, required: true } },
  responses: {
    200: {
      description: "Signed answer",
      headers: z.object({
        "updraft-signature": z
          .string()
          .openapi({ description: "Ed25519 signature of the exact body bytes, base64url" }),
        "updraft-key-id": z.string().openapi({ description: "The signing key (GET /v1/keys); also keyId in the body" }),
        "request-id": z.string(),
      }),
      content: { "application/json": { schema: CheckResponse } },
    },
    400: problemResponse("Malformed JSON or validation failure"),
    413: problemResponse("Body too large"),
    415: problemResponse("Not JSON, or a content-coded body"),
    422: problemResponse(
      "CHECK_TOO_LARGE: the asked mini programs' delivery data is more than one check may use (8 MiB); ask about fewer per check",
    ),
    503: problemResponse(
      "SERVICE_MISCONFIGURED: no signing key, or an invalid PACKAGE_BASE_URL; SERVICE_UNAVAILABLE: no delivery snapshot can be read (Retry-After)",
    ),
  },
});

/**
 * Answers a device check from the raw request (`url` is `request.url`, read once by the caller):
 * body read (415/413/400 as problems), parsed and validated on the fast path of check-request.ts,
 * decided and signed. Called before the Hono router (see createFetchHandler).
 */
export async function answerCheck(
  request: Request,
  url: string,
  deps: Deps,
  requestId: string,
  ctx?: ExecutionContext,
): Promise<Response> {
  const input = parseCheckRequest(await readJsonText(request));
  const base = deps.packageBaseUrl ?? `${url.slice(0, pathStart(url))}/v1/packages`;
  const { bytes, signature, keyId } = await checkUpdates(deps, input, requestOrigin(request, ctx), base);
  return new Response(bytes, {
    headers: {
      "content-type": "application/json",
      "cache-control": "private, no-store",
      "updraft-signature": signature,
      "updraft-key-id": keyId,
      "request-id": requestId,
    },
  });
}

/**
 * The request's origin for the decision, each part read only if the decision needs it: the runtime
 * materializes `request.cf` on first access (about 25 µs of a request's CPU, docs/performance.md).
 * `defer` hands background work (a delivery head refresh) to the runtime's waitUntil.
 */
export function requestOrigin(request: Request, ctx?: ExecutionContext): RequestOrigin {
  return {
    defer: ctx ? (work) => ctx.waitUntil(work) : undefined,
    get cf() {
      return request.cf;
    },
    get userAgent() {
      return request.headers.get("user-agent");
    },
  };
}

/** Where the path of an absolute URL starts (the end of its origin), without parsing the whole URL. */
export function pathStart(url: string): number {
  const at = url.indexOf("/", url.indexOf("//") + 2);
  return at === -1 ? url.length : at;
}

/**
 * The route in the OpenAPI document only: every request to it is answered by `answerCheck` before
 * the Hono router (createFetchHandler in ../app.ts).
 */
export const checkRouter = new OpenAPIHono<HttpEnv>();
checkRouter.openAPIRegistry.registerPath(checkRoute);
