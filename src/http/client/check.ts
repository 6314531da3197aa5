import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { checkUpdates } from "../../usecases/check-updates";
import { jsonBody } from "../json-body";
import { ConfigSchema, problemResponse, UpdateModeSchema } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

// Lone UTF-16 surrogates cannot be encoded as UTF-8 (KV keys, logs): refuse them at the edge.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const short = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !LONE_SURROGATE.test(s), "Must be valid Unicode.");
const optional = (max: number) =>
  short(max)
    .nullish()
    .transform((v) => v ?? null);

export const CheckRequest = z
  .object({
    appId: short(100),
    env: short(32),
    deviceId: short(128),
    userId: optional(128),
    appVersion: optional(64),
    platform: optional(32),
    osVersion: optional(64),
    brand: optional(64),
    model: optional(128),
    network: optional(32),
    language: optional(35),
    attributes: z
      .record(short(64), z.string().max(256))
      .refine((v) => Object.keys(v).length <= 50, "At most 50 attributes.")
      .default({}),
    nonce: optional(128),
    miniPrograms: z
      .array(
        z
          .object({
            id: short(128),
            version: optional(64),
            sha256: z
              .string()
              .regex(/^[0-9a-f]{64}$/, "Must be a lower-case hex sha256.")
              .nullish()
              .transform((v) => v ?? null),
            failed: z.array(short(64)).max(50).default([]),
          })
          .strict(),
      )
      .min(1)
      .max(200),
  })
  .strict()
  .openapi("CheckRequest");

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

export const checkRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook }).openapi(
  createRoute({
    method: "post",
    path: "/check",
    tags: ["device"],
    summary: "Check many mini programs for updates",
    description:
      "One result per requested mini program, in order. The exact body bytes are signed with Ed25519: " +
      "`Updraft-Signature` carries the base64url signature and `Updraft-Key-Id` the key (see GET /v1/keys).",
    middleware: [jsonBody] as const,
    request: { body: { content: { "application/json": { schema: CheckRequest } }, required: true } },
    responses: {
      200: { description: "Signed answer", content: { "application/json": { schema: CheckResponse } } },
      400: problemResponse("Malformed JSON or validation failure"),
      413: problemResponse("Body too large"),
      415: problemResponse("Not JSON"),
    },
  }),
  async (c) => {
    const base = `${new URL(c.req.url).origin}/v1/packages`;
    const origin = { cf: c.req.raw.cf, userAgent: c.req.header("user-agent") ?? null };
    const { body, signature, keyId } = await checkUpdates(c.var.deps, c.req.valid("json"), origin, base);
    return c.body(body, 200, {
      "content-type": "application/json",
      "cache-control": "private, no-store",
      "updraft-signature": signature,
      "updraft-key-id": keyId,
    }) as never;
  },
);
