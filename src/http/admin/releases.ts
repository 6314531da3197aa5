import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { RELEASE_STATUSES, REQUESTABLE_STATUSES } from "../../domain/release-status";
import { createRelease } from "../../usecases/create-release";
import { deleteRelease } from "../../usecases/delete-release";
import { getRelease, listReleases, withAdmissions } from "../../usecases/list-releases";
import { setReleaseRollout, setReleaseTargeting } from "../../usecases/set-release-targeting";
import { transitionRelease } from "../../usecases/transition-release";
import { updateRelease } from "../../usecases/update-release";
import { ctxOf } from "../auth";
import { expectedVersion } from "../if-match";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, budgetErrors, ConfigSchema, SecurityBearer, UpdateModeSchema } from "../schemas";
import { SemverSchema } from "../semver-schema";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const ReleaseSchema = z
  .object({
    id: z.string(),
    versionId: z.string(),
    version: z.string().describe("The version string of versionId."),
    appKey: z.string(),
    env: z.string().describe("The environment's name."),
    miniProgramId: z.string(),
    miniProgramKey: z.string().describe("The mini program's key (what devices send)."),
    appId: z.string(),
    environmentId: z.string(),
    seq: z.number().int(),
    status: z.enum(RELEASE_STATUSES),
    pausedFrom: z.enum(["canary", "full"]).nullable(),
    wentFull: z.boolean(),
    rollback: z.boolean(),
    updateMode: UpdateModeSchema,
    config: ConfigSchema,
    targeting: z.record(z.string(), z.unknown()).nullable(),
    reviewReason: z.string().nullable(),
    submittedBy: z.string().nullable(),
    timeWindow: z
      .object({ admitted: z.number().int(), cap: z.number().int(), remaining: z.number().int() })
      .nullable()
      .optional()
      .describe("A release with a time window: devices admitted so far and places left (null: not known right now)."),
    previewTestersOnly: z
      .boolean()
      .describe("Preview (test QR codes) only for the user ids in the configuration's internalTesters."),
    healthPolicy: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .describe("The canary's health gate (PUT …/health-policy, docs/statistics.md), or null"),
    rampCommitted: z
      .number()
      .int()
      .optional()
      .describe("With a health gate: the phased ramp's steps committed so far (the rest hold)"),
    createdBy: z.string(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    rowVersion: z.number().int(),
  })
  .openapi("Release");

const CreateReleaseBody = z
  .object({
    miniProgramId: z.string().min(1).max(128),
    version: SemverSchema,
    appId: z.string().min(1).max(100),
    env: z.string().min(1).max(32),
    updateMode: UpdateModeSchema.optional(),
    config: ConfigSchema.default({}),
    rollback: z.boolean().default(false),
    previewTestersOnly: z.boolean().default(false),
  })
  .strict()
  .openapi("CreateRelease");

const TransitionBody = z
  .object({ to: z.enum(REQUESTABLE_STATUSES), reason: z.string().min(1).max(2000).optional() })
  .strict()
  .openapi("Transition");

const ListQuery = z
  .object({
    appId: z.string().min(1).max(100).optional(),
    env: z.string().min(1).max(32).optional().describe("Environment name; needs appId."),
    miniProgramId: z.string().min(1).max(128).optional(),
    status: z.enum(RELEASE_STATUSES).optional(),
    version: SemverSchema.optional().describe(
      "Releases of this version string (with miniProgramId, of that mini program).",
    ),
    ...PageQuery,
  })
  .strict();

const Params = z.object({ releaseId: z.string().min(1).max(64) });

// Shapes for the document and a first check; the domain compiler validates every detail (operators
// per attribute, ranges, regex safety, ramps, windows) and reports JSON pointers into this body.
const ListRef = z.object({ kind: z.enum(["user", "device"]), listId: z.string().min(1).max(128) }).strict();
const RampStep = z.object({ at: z.number().int(), basisPoints: z.number().int().min(0).max(10000) }).strict();
const PercentageSchema = z
  .object({ basisPoints: z.number().int().min(0).max(10000), ramp: z.array(RampStep).max(100).optional() })
  .strict()
  .openapi("Percentage");
const TargetingSchema = z
  .object({
    allowlists: z.array(ListRef).optional(),
    denylists: z.array(ListRef).optional(),
    rules: z
      .array(z.object({ attribute: z.string(), operator: z.string(), values: z.array(z.unknown()) }).strict())
      .optional(),
    percentage: PercentageSchema.optional(),
    timeWindow: z
      .object({ startsAt: z.number().int(), endsAt: z.number().int(), cap: z.number().int() })
      .strict()
      .optional(),
    stickyKey: z.enum(["auto", "user", "device"]).optional(),
  })
  .strict()
  .openapi("Targeting", {
    description:
      "Canary targeting, evaluated in order: denylists, allowlists, rules (all must match), time window, percentage. " +
      "Rule attributes: city, region, country, brand, model, network, osName, osVersion, appVersion, language, custom:<name>. " +
      "Operators: include, exclude, inRange, outOfRange, semver, prefix, regex.",
  });
const ok = (schema: z.ZodType) => ({ content: { "application/json": { schema } } });

export const releasesRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["releases"],
      summary: "Create a release of a version for an (app, environment)",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { body: { content: { "application/json": { schema: CreateReleaseBody } }, required: true } },
      responses: { 201: { description: "Created", ...ok(ReleaseSchema) }, ...adminErrors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const release = await createRelease(c.var.deps, ctxOf(c), { ...b, updateMode: b.updateMode ?? null });
      return c.json(release, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["releases"],
      summary: "List releases (newest first)",
      security: SecurityBearer,
      request: { query: ListQuery },
      responses: { 200: { description: "OK", ...ok(pageSchema(ReleaseSchema)) }, ...adminErrors },
    }),
    async (c) => {
      const { limit, cursor, ...filter } = c.req.valid("query");
      const items = await listReleases(c.var.deps, ctxOf(c), filter);
      const page = paged(items, (r) => [-r.createdAt, -r.seq, r.id], { limit, cursor });
      const deps = c.var.deps;
      return c.json({ ...page, items: await Promise.all(page.items.map((r) => withAdmissions(deps, r))) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{releaseId}",
      tags: ["releases"],
      summary: "Get a release",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "OK", ...ok(ReleaseSchema) }, ...adminErrors },
    }),
    async (c) => {
      const release = await getRelease(c.var.deps, ctxOf(c), c.req.valid("param").releaseId);
      return c.json(release, 200, { etag: `"${release.rowVersion}"` });
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{releaseId}",
      tags: ["releases"],
      summary: "Delete a release that is created, rejected, cancelled or ended",
      description:
        "Other statuses answer 409 RELEASE_NOT_DELETABLE (end the release first), and so does an ended release " +
        "that went out fully as sync (a sync milestone). Audited with the release as it was.",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "Deleted: the release as it was", ...ok(ReleaseSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await deleteRelease(c.var.deps, ctxOf(c), c.req.valid("param").releaseId), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/{releaseId}",
      tags: ["releases"],
      summary: "Edit a release's configuration, update mode or preview setting (while created, rejected or approved)",
      description:
        "Fields left out keep their value; `config` replaces the release's configuration patch. Optimistic " +
        "concurrency: `If-Match` with the ETag of a GET (or `rowVersion` in the body); a stale one answers 409 " +
        "and writes nothing. An approved release goes back to created (its approval was of other content); in " +
        "review it is frozen; a live release answers 409 INVALID_TRANSITION " +
        "(make a new release; only its rollout changes). A mode its mini program cannot carry is 422 " +
        "UPDATE_MODE_NOT_ALLOWED. Audited with before and after.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: Params,
        headers: z.object({ "if-match": z.string().max(100).optional() }),
        body: {
          content: {
            "application/json": {
              schema: z
                .object({
                  config: ConfigSchema.optional(),
                  updateMode: UpdateModeSchema.optional(),
                  previewTestersOnly: z.boolean().optional(),
                  rowVersion: z.number().int().positive().optional(),
                })
                .strict()
                .openapi("UpdateRelease"),
            },
          },
          required: true,
        },
      },
      responses: { 200: { description: "OK", ...ok(ReleaseSchema) }, ...adminErrors },
    }),
    async (c) => {
      const { rowVersion, ...input } = c.req.valid("json");
      const expected = expectedVersion(c.req.header("if-match"), rowVersion);
      const release = await updateRelease(c.var.deps, ctxOf(c), c.req.valid("param").releaseId, input, expected);
      return c.json(release, 200, { etag: `"${release.rowVersion}"` });
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{releaseId}/transitions",
      tags: ["releases"],
      summary: "Move a release through its lifecycle",
      description:
        "created→in_review|cancelled; in_review→approved|rejected (reviewers; rejection needs a reason); " +
        "rejected→created|cancelled; approved→canary|full; canary→full|paused|ended; full→paused|ended; " +
        "paused→(the status it was paused from)|ended. Going full archives the previous full release.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: Params,
        body: { content: { "application/json": { schema: TransitionBody } }, required: true },
      },
      responses: { 200: { description: "OK", ...ok(ReleaseSchema) }, ...adminErrors, ...budgetErrors },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const release = await transitionRelease(c.var.deps, ctxOf(c), {
        releaseId: c.req.valid("param").releaseId,
        to: b.to,
        reason: b.reason ?? null,
      });
      return c.json(release, 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/{releaseId}/targeting",
      tags: ["releases"],
      summary: "Set a release's canary targeting (while created or rejected)",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: Params,
        body: { content: { "application/json": { schema: TargetingSchema.nullable() } }, required: true },
      },
      responses: { 200: { description: "OK", ...ok(ReleaseSchema) }, ...adminErrors, ...budgetErrors },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const release = await setReleaseTargeting(c.var.deps, ctxOf(c), c.req.valid("param").releaseId, body);
      return c.json(release, 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/{releaseId}/rollout",
      tags: ["releases"],
      summary: "Change the rollout percentage (basis points) and phased ramp, also while live",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: Params,
        body: { content: { "application/json": { schema: PercentageSchema } }, required: true },
      },
      responses: { 200: { description: "OK", ...ok(ReleaseSchema) }, ...adminErrors, ...budgetErrors },
    }),
    async (c) => {
      const release = await setReleaseRollout(
        c.var.deps,
        ctxOf(c),
        c.req.valid("param").releaseId,
        c.req.valid("json"),
      );
      return c.json(release, 200);
    },
  );
