import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  addPublisherKey,
  getPublisherKey,
  listPublisherKeys,
  revokePublisherKey,
} from "../../usecases/manage-publisher-keys";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const PublisherKeySchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    keyId: z.string().describe("First 16 hex digits of the sha256 of the raw key: what uploads name it by."),
    name: z.string(),
    publicKey: z.string().describe("The raw 32-byte Ed25519 public key, base64url."),
    createdBy: z.string(),
    createdAt: z.number().int(),
    revokedAt: z.number().int().nullable(),
    revokedBy: z.string().nullable(),
  })
  .openapi("PublisherKey");

const Params = z.object({ keyId: z.string().min(1).max(64) });

export const publisherKeysRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["publishing"],
      summary: "List the workspace's publisher keys (revoked ones included)",
      security: SecurityBearer,
      request: { query: z.object(PageQuery).strict() },
      responses: { 200: { description: "OK", ...ok(pageSchema(PublisherKeySchema)) }, ...adminErrors },
    }),
    async (c) =>
      c.json(
        paged(await listPublisherKeys(c.var.deps, ctxOf(c)), (k) => [k.createdAt, k.id], c.req.valid("query")),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["publishing"],
      summary: "Add a publisher's Ed25519 public key",
      description:
        "Workspace admins. Uploads signed with the matching private key name it by `keyId` " +
        "(docs/publishing.md). The same key twice is 409 CONFLICT. Audited.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        body: json(
          z
            .object({ name: z.string().min(1).max(200), publicKey: z.string().min(1).max(100) })
            .strict()
            .openapi("AddPublisherKey"),
        ),
      },
      responses: { 201: { description: "Added", ...ok(PublisherKeySchema) }, ...adminErrors },
    }),
    async (c) => c.json(await addPublisherKey(c.var.deps, ctxOf(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{keyId}",
      tags: ["publishing"],
      summary: "Get a publisher key by its id or keyId",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "OK", ...ok(PublisherKeySchema) }, ...adminErrors },
    }),
    async (c) => c.json(await getPublisherKey(c.var.deps, ctxOf(c), c.req.valid("param").keyId), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{keyId}",
      tags: ["publishing"],
      summary: "Revoke a publisher key",
      description:
        "Workspace admins. Uploads signed with it are refused from then on (422 PUBLISHER_KEY_REVOKED); the key " +
        "stays listed as revoked. Versions it signed before are unchanged (docs/publishing.md). 409 CONFLICT when " +
        "already revoked. Audited.",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "Revoked", ...ok(PublisherKeySchema) }, ...adminErrors },
    }),
    async (c) => c.json(await revokePublisherKey(c.var.deps, ctxOf(c), c.req.valid("param").keyId), 200),
  );
