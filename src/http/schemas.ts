import { z } from "@hono/zod-openapi";
import { UPDATE_MODES } from "../domain/update-mode";

// Shapes shared by more than one router.

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string(),
    errors: z.array(z.object({ pointer: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

/** Standard error responses every admin route documents. */
export const adminErrors = {
  400: { description: "Malformed JSON or validation failure", content: problemContent },
  401: { description: "Missing or invalid bearer token", content: problemContent },
  403: { description: "The token's role does not allow this", content: problemContent },
  404: { description: "Not found", content: problemContent },
  409: { description: "Conflict", content: problemContent },
  413: { description: "Payload too large", content: problemContent },
  415: { description: "Unsupported media type", content: problemContent },
  429: {
    description: "RATE_LIMITED: too many failed authentications from this client address",
    headers: { "retry-after": { description: "Seconds to wait", schema: { type: "string" } } },
    content: problemContent,
  },
  503: {
    description:
      "SERVICE_UNAVAILABLE: the database is unreachable (retry after the Retry-After seconds), or SERVICE_MISCONFIGURED: a deployment setting is invalid",
    headers: {
      "retry-after": {
        description: "Seconds to wait before retrying (SERVICE_UNAVAILABLE)",
        schema: { type: "string" },
      },
    },
    content: problemContent,
  },
} as const;

export const problemResponse = (description: string) => ({ description, content: problemContent });

/** The 422s of a change measured against its environment's delivery budgets (docs/targeting.md). */
export const budgetErrors = {
  422: problemResponse(
    "SNAPSHOT_TOO_LARGE: the environment's delivery snapshot would outgrow its bound; REGEX_BUDGET_EXCEEDED: one device check of the environment would evaluate more regex work than its budget. Nothing is written",
  ),
} as const;

export const UpdateModeSchema = z.enum(UPDATE_MODES);

/** Largest configuration (a mini program's, or a release's patch), as UTF-8 JSON: it travels in every update answer. */
export const MAX_CONFIG_JSON_BYTES = 64 * 1024;
const utf8 = new TextEncoder();

export const ConfigSchema = z
  .object({
    networkAllowlist: z.array(z.string().min(1).max(253)).max(500).optional(),
    internalTesters: z.array(z.string().min(1).max(128)).max(1000).optional(),
    payment: z
      .object({ clientId: z.string().max(128).optional(), merchantId: z.string().max(128).optional() })
      .strict()
      .optional(),
    switches: z.record(z.string().min(1).max(128), z.string().max(1024)).optional(),
    features: z.array(z.string().min(1).max(128)).max(500).optional(),
  })
  .strict()
  .refine((config) => utf8.encode(JSON.stringify(config)).byteLength <= MAX_CONFIG_JSON_BYTES, {
    message: `must be at most ${MAX_CONFIG_JSON_BYTES} bytes as JSON (UTF-8)`,
  })
  .openapi("Config");

export const SecurityBearer = [{ bearer: [] }];

/** Refusals of the token and member routes' rules (docs/access.md). */
export const accessErrors = {
  422: { description: "SCOPE_TOO_WIDE or INVALID_EXPIRY", content: problemContent },
} as const;

export const json = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema } },
  required: true,
});

export const ok = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });
