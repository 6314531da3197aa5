import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { looksLikeId } from "../../domain/keys";
import {
  createFeature,
  deleteFeature,
  getFeature,
  listFeatures,
  listMiniProgramFeatures,
  releaseFeatures,
  setMiniProgramFeature,
} from "../../usecases/manage-features";
import {
  decideRemoval,
  getRemovalRequest,
  listRemovalRequests,
  requestRemoval,
  withdrawRemoval,
} from "../../usecases/manage-removals";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

// The feature catalogue and mini program removal requests (docs/overview.md).

const FEATURE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const JSAPI = /^[A-Za-z_$][A-Za-z0-9_$.]{0,127}$/;

const FeatureSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    name: z.string(),
    description: z.string(),
    jsapis: z.array(z.string()),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi("Feature");

const CreateFeature = z
  .object({
    name: z
      .string()
      .regex(FEATURE_NAME, "1-64 letters, digits, dots, dashes or underscores.")
      .refine((v) => !looksLikeId(v), "Must not start like a generated id (such as ftr_)."),
    description: z.string().max(1000).default(""),
    jsapis: z.array(z.string().regex(JSAPI, "A JSAPI name such as my.getLocation.")).min(1).max(200),
  })
  .strict()
  .openapi("CreateFeature");

const RemovalSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    miniProgramId: z.string(),
    reason: z.string(),
    status: z.enum(["pending", "approved", "rejected", "withdrawn"]),
    requestedBy: z.string(),
    requestedAt: z.number().int(),
    decidedBy: z.string().nullable(),
    decidedAt: z.number().int().nullable(),
    decisionReason: z.string().nullable(),
  })
  .openapi("RemovalRequest");

const MpParams = z.object({ miniProgramId: z.string().min(1).max(128) });
const FeatureParams = z.object({ featureId: z.string().min(1).max(64) });
const RequestParams = z.object({ requestId: z.string().min(1).max(64) });

export const catalogueRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/features",
      tags: ["features"],
      summary: "List the workspace's feature catalogue",
      security: SecurityBearer,
      request: { query: z.object(PageQuery).strict() },
      responses: { 200: { description: "OK", ...ok(pageSchema(FeatureSchema)) }, ...adminErrors },
    }),
    async (c) =>
      c.json(
        paged(await listFeatures(c.var.deps, ctxOf(c)), (f) => [f.name], c.req.valid("query")),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/features",
      tags: ["features"],
      summary: "Add a feature (a named group of JSAPIs) to the catalogue",
      description: "Workspace admins. A name already in the catalogue is 409 CONFLICT. Audited.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { body: json(CreateFeature) },
      responses: { 201: { description: "Created", ...ok(FeatureSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await createFeature(c.var.deps, ctxOf(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/features/{featureId}",
      tags: ["features"],
      summary: "Get a catalogue feature by id or name",
      security: SecurityBearer,
      request: { params: FeatureParams },
      responses: { 200: { description: "OK", ...ok(FeatureSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await getFeature(c.var.deps, ctxOf(c), c.req.valid("param").featureId), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/features/{featureId}",
      tags: ["features"],
      summary: "Delete a catalogue feature no mini program has",
      description: "409 FEATURE_IN_USE while a mini program has it. Audited.",
      security: SecurityBearer,
      request: { params: FeatureParams },
      responses: { 200: { description: "Deleted: the feature as it was", ...ok(FeatureSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await deleteFeature(c.var.deps, ctxOf(c), c.req.valid("param").featureId), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/mini-programs/{miniProgramId}/features",
      tags: ["features"],
      summary: "List the catalogue features a mini program has",
      description: "Every release of the mini program delivers them in its configuration's `features`.",
      security: SecurityBearer,
      request: { params: MpParams, query: z.object(PageQuery).strict() },
      responses: {
        200: {
          description: "OK",
          ...ok(pageSchema(FeatureSchema.extend({ addedAt: z.number().int() }).openapi("MiniProgramFeature"))),
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const items = await listMiniProgramFeatures(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId);
      return c.json(
        paged(items, (f) => [f.name], c.req.valid("query")),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/mini-programs/{miniProgramId}/features/{featureId}",
      tags: ["features"],
      summary: "Add a catalogue feature to a mini program (idempotent)",
      description: "Mini program admins. Delivered with every release of it within seconds. Audited.",
      security: SecurityBearer,
      request: { params: MpParams.merge(FeatureParams) },
      responses: { 200: { description: "Its features now", ...ok(z.array(FeatureSchema)) }, ...adminErrors },
    }),
    async (c) => {
      const { miniProgramId, featureId } = c.req.valid("param");
      return c.json(await setMiniProgramFeature(c.var.deps, ctxOf(c), miniProgramId, featureId, true), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/mini-programs/{miniProgramId}/features/{featureId}",
      tags: ["features"],
      summary: "Delete a feature from a mini program (idempotent)",
      security: SecurityBearer,
      request: { params: MpParams.merge(FeatureParams) },
      responses: { 200: { description: "Its features now", ...ok(z.array(FeatureSchema)) }, ...adminErrors },
    }),
    async (c) => {
      const { miniProgramId, featureId } = c.req.valid("param");
      return c.json(await setMiniProgramFeature(c.var.deps, ctxOf(c), miniProgramId, featureId, false), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/releases/{releaseId}/features",
      tags: ["features"],
      summary: "The features a release carries (with their JSAPIs)",
      security: SecurityBearer,
      request: { params: z.object({ releaseId: z.string().min(1).max(64) }) },
      responses: {
        200: {
          description: "OK",
          ...ok(
            z
              .array(
                z.object({
                  name: z.string(),
                  source: z.enum(["mini_program", "configuration"]),
                  description: z.string().nullable(),
                  jsapis: z.array(z.string()).nullable().describe("null: not in the catalogue."),
                }),
              )
              .openapi("ReleaseFeatures"),
          ),
        },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await releaseFeatures(c.var.deps, ctxOf(c), c.req.valid("param").releaseId), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/mini-programs/{miniProgramId}/removal-requests",
      tags: ["removal"],
      summary: "Ask for a mini program's removal",
      description:
        "Mini program admins. A workspace admin approves or rejects it. 409 CONFLICT while one is pending; " +
        "409 MINI_PROGRAM_REMOVED once removed. Audited.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { params: MpParams, body: json(z.object({ reason: z.string().min(1).max(2000) }).strict()) },
      responses: { 201: { description: "Requested", ...ok(RemovalSchema) }, ...adminErrors },
    }),
    async (c) =>
      c.json(
        await requestRemoval(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId, c.req.valid("json").reason),
        201,
      ),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/removal-requests",
      tags: ["removal"],
      summary: "List removal requests (oldest first)",
      security: SecurityBearer,
      request: {
        query: z
          .object({
            ...PageQuery,
            miniProgramId: z.string().min(1).max(128).optional(),
            status: z.enum(["pending", "approved", "rejected", "withdrawn"]).optional(),
          })
          .strict(),
      },
      responses: { 200: { description: "OK", ...ok(pageSchema(RemovalSchema)) }, ...adminErrors },
    }),
    async (c) => {
      const { limit, cursor, ...filter } = c.req.valid("query");
      const items = await listRemovalRequests(c.var.deps, ctxOf(c), filter);
      return c.json(
        paged(items, (r) => [r.requestedAt, r.id], { limit, cursor }),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/removal-requests/{requestId}",
      tags: ["removal"],
      summary: "Get a removal request",
      security: SecurityBearer,
      request: { params: RequestParams },
      responses: { 200: { description: "OK", ...ok(RemovalSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await getRemovalRequest(c.var.deps, ctxOf(c), c.req.valid("param").requestId), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/removal-requests/{requestId}/decision",
      tags: ["removal"],
      summary: "Approve or reject a pending removal request",
      description:
        "Workspace admins. Approval ends every live release of the mini program and cancels its other open " +
        "releases (each audited), stops delivery on every target and answers devices that have it with the " +
        "`removed` action; the mini program stays readable (with its audit history) and its key is never reused. " +
        "409 CONFLICT once decided.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: RequestParams,
        body: json(
          z
            .object({ decision: z.enum(["approve", "reject"]), reason: z.string().min(1).max(2000).optional() })
            .strict()
            .openapi("RemovalDecision"),
        ),
      },
      responses: { 200: { description: "Decided", ...ok(RemovalSchema) }, ...adminErrors },
    }),
    async (c) =>
      c.json(await decideRemoval(c.var.deps, ctxOf(c), c.req.valid("param").requestId, c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/removal-requests/{requestId}",
      tags: ["removal"],
      summary: "Withdraw a pending removal request",
      description: "Whoever may ask for the mini program's removal. 409 CONFLICT once decided. Audited.",
      security: SecurityBearer,
      request: { params: RequestParams },
      responses: { 200: { description: "Withdrawn", ...ok(RemovalSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await withdrawRemoval(c.var.deps, ctxOf(c), c.req.valid("param").requestId), 200),
  );
