import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { looksLikeId } from "../../domain/keys";
import { MINI_PROGRAM_ORIGINS, MINI_PROGRAM_TYPES } from "../../domain/update-mode";
import { createMiniProgram, getMiniProgram, listMiniPrograms } from "../../usecases/create-mini-program";
import { updateMiniProgram } from "../../usecases/update-mini-program";
import { ctxOf } from "../auth";
import { expectedVersion } from "../if-match";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, ConfigSchema, ProblemSchema, SecurityBearer, UpdateModeSchema } from "../schemas";
import { SemverSchema } from "../semver-schema";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const Localized = z
  .record(
    z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "Keys must be language tags such as en or zh-CN."),
    z.string().min(1).max(500),
  )
  .refine((v) => Object.keys(v).length <= 20, "At most 20 languages.");

const Icon = z
  .string()
  .max(2048)
  .url()
  .refine((v) => v.startsWith("https://"), "Must be an https URL.");
const Category = z
  .string()
  .min(1)
  .max(64)
  .regex(/^\P{Cc}*$/u, "No control characters.");

export const MiniProgramSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    key: z.string(),
    type: z.enum(MINI_PROGRAM_TYPES),
    origin: z.enum(MINI_PROGRAM_ORIGINS),
    names: z.record(z.string(), z.string()),
    descriptions: z.record(z.string(), z.string()),
    defaultUpdateMode: UpdateModeSchema,
    minUsableVersion: z.string().nullable(),
    config: ConfigSchema,
    icon: z.string().nullable().describe("An https URL of the icon."),
    category: z.string().nullable(),
    createdBy: z.string().nullable().describe("The member who created it (null for older mini programs)."),
    removedAt: z.number().int().nullable().describe("When its removal was approved; null while it exists."),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    rowVersion: z.number().int(),
  })
  .openapi("MiniProgram");

const CreateMiniProgramBody = z
  .object({
    key: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "Must be 1-128 letters, digits, dots, dashes or underscores.")
      .refine((v) => !looksLikeId(v), "Must not start like a generated id (such as mp_ or al_)."),
    type: z.enum(MINI_PROGRAM_TYPES).default("dsl"),
    origin: z.enum(MINI_PROGRAM_ORIGINS).default("workspace"),
    names: Localized.refine((v) => Object.keys(v).length >= 1, "At least one name."),
    descriptions: Localized.default({}),
    defaultUpdateMode: UpdateModeSchema.default("default"),
    minUsableVersion: SemverSchema.nullable().default(null),
    config: ConfigSchema.default({}),
    icon: Icon.nullable().default(null),
    category: Category.nullable().default(null),
  })
  .strict()
  .openapi("CreateMiniProgram");

const Params = z.object({ miniProgramId: z.string().min(1).max(128) });

const UpdateMiniProgramBody = z
  .object({
    names: Localized.refine((v) => Object.keys(v).length >= 1, "At least one name.").optional(),
    descriptions: Localized.optional(),
    defaultUpdateMode: UpdateModeSchema.optional(),
    minUsableVersion: SemverSchema.nullable().optional(),
    config: ConfigSchema.optional(),
    icon: Icon.nullable().optional(),
    category: Category.nullable().optional(),
    rowVersion: z.number().int().positive().optional(),
  })
  .strict()
  .openapi("UpdateMiniProgram");

const problemJson = { content: { "application/problem+json": { schema: ProblemSchema } } };

export const miniProgramsRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["mini programs"],
      summary: "Register a mini program",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { body: { content: { "application/json": { schema: CreateMiniProgramBody } }, required: true } },
      responses: {
        201: { description: "Created", content: { "application/json": { schema: MiniProgramSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await createMiniProgram(c.var.deps, ctxOf(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["mini programs"],
      summary: "List mini programs",
      description:
        "`q` keeps those whose key or a name contains it (case-insensitive); `createdBy` those a member created; " +
        "`category` those of one category.",
      security: SecurityBearer,
      request: {
        query: z
          .object({
            ...PageQuery,
            q: z.string().min(1).max(128).optional(),
            createdBy: z.string().min(1).max(64).optional().describe("A member id."),
            category: Category.optional(),
          })
          .strict(),
      },
      responses: {
        200: {
          description: "OK",
          content: { "application/json": { schema: pageSchema(MiniProgramSchema) } },
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const { q, createdBy, category } = query;
      const items = await listMiniPrograms(c.var.deps, ctxOf(c), q ?? null, { createdBy, category });
      return c.json(
        paged(items, (mp) => [mp.key], query),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{miniProgramId}",
      tags: ["mini programs"],
      summary: "Get a mini program by id or key",
      security: SecurityBearer,
      request: { params: Params },
      responses: {
        200: { description: "OK", content: { "application/json": { schema: MiniProgramSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => {
      const mp = await getMiniProgram(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId);
      return c.json(mp, 200, { etag: `"${mp.rowVersion}"` });
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/{miniProgramId}",
      tags: ["mini programs"],
      summary: "Edit a mini program's information, update mode, minimum usable version or configuration",
      description:
        "Workspace admins and the mini program's admins. Fields left out keep their value; `config` replaces " +
        "the global configuration. Optimistic concurrency: send `If-Match` with the ETag of a GET (or " +
        "`rowVersion` in the body); a stale one answers 409 and writes nothing. A `defaultUpdateMode` other " +
        "than default on an h5 or external mini program is 422 UPDATE_MODE_NOT_ALLOWED. Audited with before " +
        "and after; a configuration or minimum version change is delivered within the freshness bound.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: Params,
        headers: z.object({ "if-match": z.string().max(100).optional() }),
        body: { content: { "application/json": { schema: UpdateMiniProgramBody } }, required: true },
      },
      responses: {
        200: { description: "OK", content: { "application/json": { schema: MiniProgramSchema } } },
        ...adminErrors,
        422: { description: "UPDATE_MODE_NOT_ALLOWED or SNAPSHOT_TOO_LARGE", ...problemJson },
      },
    }),
    async (c) => {
      const { rowVersion, ...input } = c.req.valid("json");
      const expected = expectedVersion(c.req.header("if-match"), rowVersion);
      const mp = await updateMiniProgram(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId, input, expected);
      return c.json(mp, 200, { etag: `"${mp.rowVersion}"` });
    },
  );
