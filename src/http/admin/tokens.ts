import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { TOKEN_ACCESS } from "../../domain/permissions";
import { MAX_ROTATION_OVERLAP_S } from "../../domain/tokens";
import { createToken, getToken, listTokens, revokeToken, rotateToken } from "../../usecases/manage-tokens";
import { ctxOf } from "../auth";
import { jsonBody, optionalJsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { accessErrors, adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const Scopes = z
  .object({
    access: z.enum(TOKEN_ACCESS),
    miniProgramIds: z.array(z.string().min(1).max(100)).min(1).max(100).nullable().optional(),
  })
  .strict()
  .openapi("TokenScopes");

const TokenSchema = z
  .object({
    id: z.string(),
    memberId: z.string(),
    name: z.string(),
    prefix: z.string(),
    scopes: z.object({ access: z.enum(TOKEN_ACCESS), miniProgramIds: z.array(z.string()).nullable() }),
    expiresAt: z.number().int().nullable(),
    lastUsedAt: z.number().int().nullable(),
    createdBy: z.string().nullable(),
    createdAt: z.number().int(),
    revokedAt: z.number().int().nullable(),
    replacedBy: z.string().nullable(),
  })
  .openapi("Token");

const NewTokenSchema = TokenSchema.extend({ secret: z.string() }).openapi("NewToken");

const CreateToken = z
  .object({
    name: z.string().min(1).max(100),
    expiresAt: z.number().int().nonnegative().nullable().optional(),
    scopes: Scopes.optional(),
    memberId: z.string().min(1).max(100).optional(),
  })
  .strict()
  .openapi("CreateToken");

const Params = z.object({ tokenId: z.string().min(1).max(100) });

export const tokensRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["tokens"],
      summary: "Create an API token (the secret is shown once)",
      description:
        "For yourself, or (admins) for a service account with `memberId`. `expiresAt` in ms since the epoch: " +
        "default 90 days, at most one year; `null` (never) only for a service account's token made by an admin. " +
        "`scopes` default to the presenting token's and may only narrow it: `access` read, publish (upload versions " +
        "and create releases) or full; `miniProgramIds` limits the token to those mini programs.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { body: json(CreateToken) },
      responses: { 201: { description: "Created", ...ok(NewTokenSchema) }, ...adminErrors, ...accessErrors },
    }),
    async (c) => c.json(await createToken(c.var.deps, ctxOf(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["tokens"],
      summary: "List tokens: your own, or (admins) the workspace's",
      security: SecurityBearer,
      request: { query: z.object({ ...PageQuery, memberId: z.string().min(1).max(100).optional() }).strict() },
      responses: { 200: { description: "OK", ...ok(pageSchema(TokenSchema)) }, ...adminErrors },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const items = await listTokens(c.var.deps, ctxOf(c), query.memberId ?? null);
      return c.json(
        paged(items, (t) => [-t.createdAt, t.id], query),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{tokenId}",
      tags: ["tokens"],
      summary: "A token's metadata (never its secret)",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "OK", ...ok(TokenSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await getToken(c.var.deps, ctxOf(c), c.req.valid("param").tokenId), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{tokenId}",
      tags: ["tokens"],
      summary: "Revoke a token: refused from the next request on",
      description: "The last working token of the workspace's last admin is refused with 409 LAST_ADMIN.",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "Revoked", ...ok(TokenSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await revokeToken(c.var.deps, ctxOf(c), c.req.valid("param").tokenId), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{tokenId}/rotations",
      tags: ["tokens"],
      summary: "Rotate a token: a new secret; the old one works for the overlap, then expires",
      description: `\`overlapSeconds\`: how long the old secret keeps working (default 3600, at most ${MAX_ROTATION_OVERLAP_S}).`,
      security: SecurityBearer,
      middleware: [optionalJsonBody] as const,
      request: {
        params: Params,
        body: {
          content: {
            "application/json": {
              schema: z
                .object({ overlapSeconds: z.number().int().min(0).max(MAX_ROTATION_OVERLAP_S).optional() })
                .strict(),
            },
          },
          required: false,
        },
      },
      responses: {
        201: {
          description: "Rotated",
          ...ok(NewTokenSchema.extend({ previous: z.object({ id: z.string(), expiresAt: z.number().int() }) })),
        },
        ...adminErrors,
        ...accessErrors,
      },
    }),
    async (c) => {
      const body = (c.req.valid("json") as { overlapSeconds?: number } | undefined) ?? {};
      return c.json(await rotateToken(c.var.deps, ctxOf(c), c.req.valid("param").tokenId, body.overlapSeconds), 201);
    },
  );
