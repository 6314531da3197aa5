import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { checkUpdates } from "../../usecases/check-updates";
import { readJsonText } from "../json-body";
import { ConfigSchema, problemResponse, UpdateModeSchema } from "../schemas";
import type { HttpEnv } from "../types";
import { CheckRequest, parseCheckRequest } from "./check-request";

const Result = z
  .object({
    id: z.string(),
    action: z.enum(["update", "none", "rollback"]),
    version: z.string().optional(),
    releaseId: z.string().optional(),
    updateMode: UpdateModeSchema.optional(),
    package: z.object({ url: z.string(), sha256: z.string(), size: z.number().int() }).optional(),
    signature: z.string().nullable().optional(),
    config: ConfigSchema.optional(),
  })
  .openapi("CheckResult");

const CheckResponse = z
  .object({
    issuedAt: z.number().int(),
    expiresAt: z.number().int(),
    nonce: z.string().nullable(),
    keyId: z.string(),
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
    200: { description: "Signed answer", content: { "application/json": { schema: CheckResponse } } },
    400: problemResponse("Malformed JSON or validation failure"),
    413: problemResponse("Body too large"),
    415: problemResponse("Not JSON"),
  },
});

/**
 * The hottest route: documented from the same schema, but registered as a plain Hono handler so the
 * body is read, parsed and validated once, on the fast path of check-request.ts.
 */
export const checkRouter = new OpenAPIHono<HttpEnv>();
checkRouter.openAPIRegistry.registerPath(checkRoute);
checkRouter.post("/check", async (c) => {
  const input = parseCheckRequest(await readJsonText(c.req.raw));
  const base = `${new URL(c.req.url).origin}/v1/packages`;
  const origin = { cf: c.req.raw.cf, userAgent: c.req.header("user-agent") ?? null };
  const { body, signature, keyId } = await checkUpdates(c.var.deps, input, origin, base);
  return c.body(body, 200, {
    "content-type": "application/json",
    "cache-control": "private, no-store",
    "updraft-signature": signature,
    "updraft-key-id": keyId,
  });
});
