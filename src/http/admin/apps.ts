import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { APP_KEY, ENV_NAME } from "../../domain/keys";
import { createApp } from "../../usecases/create-app";
import { createEnvironment } from "../../usecases/create-environment";
import { deleteApp, deleteEnvironment } from "../../usecases/delete-target";
import { getApp, listApps } from "../../usecases/list-apps";
import { rebuildDelivery } from "../../usecases/rebuild-delivery";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const EnvName = z.string().regex(ENV_NAME, "Must be 1-32 lower-case letters, digits or dashes.");

const EnvironmentSchema = z
  .object({
    id: z.string(),
    appId: z.string(),
    name: z.string(),
    snapshotVersion: z.number().int(),
    createdAt: z.number().int(),
    deletedAt: z.number().int().nullable(),
  })
  .openapi("Environment");

const AppSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    key: z.string(),
    name: z.string(),
    platforms: z.array(z.string()),
    createdAt: z.number().int(),
    deletedAt: z.number().int().nullable(),
    environments: z.array(EnvironmentSchema),
  })
  .openapi("App");

const CreateAppBody = z
  .object({
    key: z.string().regex(APP_KEY, "Must be 2-63 lower-case letters, digits or dashes."),
    name: z.string().min(1).max(200),
    platforms: z
      .array(z.enum(["ios", "android", "harmony"]))
      .min(1)
      .max(3),
    environments: z.array(EnvName).max(20).default(["test", "prod"]),
  })
  .strict()
  .openapi("CreateApp");

const AppParams = z.object({ appId: z.string().min(1).max(100) });

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } }, required: true });

export const appsRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["apps"],
      summary: "Register a host app with its environments",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { body: json(CreateAppBody) },
      responses: {
        201: { description: "Created", content: { "application/json": { schema: AppSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await createApp(c.var.deps, ctxOf(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["apps"],
      summary: "List host apps",
      security: SecurityBearer,
      request: { query: z.object(PageQuery).strict() },
      responses: {
        200: {
          description: "OK",
          content: { "application/json": { schema: pageSchema(AppSchema) } },
        },
        ...adminErrors,
      },
    }),
    async (c) =>
      c.json(
        paged(await listApps(c.var.deps, ctxOf(c)), (a) => [a.key], c.req.valid("query")),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{appId}",
      tags: ["apps"],
      summary: "Get a host app by id or key",
      security: SecurityBearer,
      request: { params: AppParams },
      responses: { 200: { description: "OK", content: { "application/json": { schema: AppSchema } } }, ...adminErrors },
    }),
    async (c) => c.json(await getApp(c.var.deps, ctxOf(c), c.req.valid("param").appId), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{appId}",
      tags: ["apps"],
      summary: "Delete a host app and its environments",
      description:
        "Refused with 409 TARGET_IN_USE while any of its environments has a release that is not ended, archived or " +
        "cancelled. The app is hidden from then on but its key is never reusable, by this or any workspace: devices " +
        "in the field still send it. Audited.",
      security: SecurityBearer,
      request: { params: AppParams },
      responses: {
        200: {
          description: "Deleted",
          content: { "application/json": { schema: AppSchema.omit({ environments: true }) } },
        },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await deleteApp(c.var.deps, ctxOf(c), c.req.valid("param").appId), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{appId}/environments/{env}",
      tags: ["apps"],
      summary: "Delete an environment of a host app",
      description:
        "Refused with 409 TARGET_IN_USE while it has a release that is not ended, archived or cancelled. Its name " +
        "stays taken on the app. Audited.",
      security: SecurityBearer,
      request: { params: AppParams.extend({ env: EnvName }) },
      responses: {
        200: { description: "Deleted", content: { "application/json": { schema: EnvironmentSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => {
      const { appId, env } = c.req.valid("param");
      return c.json(await deleteEnvironment(c.var.deps, ctxOf(c), appId, env), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{appId}/environments",
      tags: ["apps"],
      summary: "Add an environment to a host app",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { params: AppParams, body: json(z.object({ name: EnvName }).strict()) },
      responses: {
        201: { description: "Created", content: { "application/json": { schema: EnvironmentSchema } } },
        ...adminErrors,
      },
    }),
    async (c) =>
      c.json(await createEnvironment(c.var.deps, ctxOf(c), c.req.valid("param").appId, c.req.valid("json").name), 201),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{appId}/environments/{env}/rebuild-delivery",
      tags: ["apps"],
      summary: "Rebuild an environment's delivery data from the relational state",
      description:
        "Compiles and publishes the delivery part of every mini program released on the environment. Needed " +
        "once after upgrading from a version that kept one snapshot per environment, or to repair delivery " +
        "storage; changes nothing else. Devices see the result within the freshness bound.",
      security: SecurityBearer,
      request: { params: AppParams.extend({ env: EnvName }) },
      responses: {
        200: {
          description: "Published",
          content: {
            "application/json": {
              schema: z.object({ parts: z.number().int(), version: z.number().int() }).openapi("DeliveryRebuild"),
            },
          },
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const { appId, env } = c.req.valid("param");
      return c.json(await rebuildDelivery(c.var.deps, ctxOf(c), appId, env), 200);
    },
  );
