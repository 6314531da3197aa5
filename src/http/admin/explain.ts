import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { explainDevice } from "../../usecases/explain-device";
import { ctxOf } from "../auth";
import { CheckRequest } from "../client/check-request";
import { jsonBody } from "../json-body";
import { adminErrors, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const Trace = z.object({
  releaseId: z.string(),
  version: z.string(),
  status: z.enum(["canary", "full", "preview"]),
  reason: z.string(),
  targeting: z
    .object({
      decision: z.enum(["in", "out", "needs_admission"]),
      step: z.string(),
      reason: z.string(),
      failedRule: z.object({ index: z.number().int(), attribute: z.string(), reason: z.string() }).optional(),
    })
    .optional(),
});

const ExplainResponse = z
  .object({
    snapshotVersion: z.number().int().nullable(),
    evaluatedAt: z.number().int(),
    results: z.array(
      z.object({
        id: z.string(),
        action: z.enum(["update", "none", "rollback", "removed"]),
        reason: z.string(),
        version: z.string().optional(),
        releaseId: z.string().optional(),
        updateMode: z.string().optional(),
        delivery: z
          .object({
            download: z.enum(["patch", "package"]),
            reason: z
              .enum([
                "PATCH",
                "NO_PATCH_FORMATS",
                "NO_INSTALLED_PACKAGE",
                "NO_PATCH_FOR_BASE",
                "BASE_VERSION_MISMATCH",
                "FORMAT_NOT_DECLARED",
                "PATCH_TOO_LARGE",
              ])
              .describe("Why the device downloads a patch or the full package (docs/patches.md)"),
            packageSize: z.number().int(),
            patch: z
              .object({
                sha256: z.string(),
                size: z.number().int(),
                baseSha256: z.string(),
                baseVersion: z.string(),
                format: z.string(),
              })
              .optional()
              .describe("The patch offered, or the one considered and refused"),
            availablePatches: z.array(
              z.object({ baseVersion: z.string(), format: z.string(), size: z.number().int() }),
            ),
          })
          .optional()
          .describe("For an update or rollback: what the device would download, and why"),
        releases: z.array(Trace),
        preview: z
          .enum([
            "APPLIED",
            "INVALID",
            "UNKNOWN_CODE",
            "EXPIRED",
            "STALE",
            "NOT_A_TESTER",
            "INCOMPATIBLE_APP_VERSION",
            "FAILED_ON_DEVICE",
            "UNKNOWN_VERSION",
          ])
          .optional()
          .describe("Present when the mini program carried a previewToken: APPLIED, or why it was not honoured."),
      }),
    ),
  })
  .openapi("Explanation");

export const explainRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook }).openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["explain"],
    summary: "Why does this device get (or not get) a version? Same body as POST /v1/check",
    description:
      "Runs the device decision without admitting the device to any time window and returns, per mini program, " +
      "the outcome and the trace of every release considered: which step decided and, for filters, which rule failed " +
      "on which attribute. Geography can be given in the `cf` field (country, region, city) to test geo rules.",
    security: SecurityBearer,
    middleware: [jsonBody] as const,
    request: {
      body: {
        content: {
          "application/json": {
            schema: CheckRequest.extend({
              cf: z
                .object({
                  country: z.string().max(8).optional(),
                  region: z.string().max(100).optional(),
                  city: z.string().max(100).optional(),
                })
                .strict()
                .optional(),
              userAgent: z.string().max(1024).optional(),
            }),
          },
        },
        required: true,
      },
    },
    responses: {
      200: { description: "OK", content: { "application/json": { schema: ExplainResponse } } },
      ...adminErrors,
    },
  }),
  async (c) => {
    const { cf, userAgent, ...input } = c.req.valid("json");
    const origin = { cf: cf ?? null, userAgent: userAgent ?? null };
    return c.json(await explainDevice(c.var.deps, ctxOf(c), input, origin), 200);
  },
);
