import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { addOperatorAdmin, createWorkspace } from "../usecases/bootstrap-workspace";
import { acceptInvite } from "../usecases/manage-members";
import { jsonBody } from "./json-body";
import { clientOf, operatorGate } from "./operator";
import { adminErrors, json, ok } from "./schemas";
import type { HttpEnv } from "./types";
import { validationHook } from "./validate";

const Body = z
  .object({
    workspaceName: z.string().min(1).max(200),
    adminName: z.string().min(1).max(200),
    adminEmail: z.email().max(254),
    adminHandle: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, "2-64 of a-z 0-9 . _ -")
      .optional(),
  })
  .strict()
  .openapi("CreateWorkspace");

const Created = z
  .object({
    workspaceId: z.string(),
    memberId: z.string(),
    tokenId: z.string(),
    token: z.string(),
    expiresAt: z.number().int().nullable(),
  })
  .openapi("CreatedWorkspace");

const operatorRoute = (path: string, summary: string, description: string) =>
  createRoute({
    method: "post",
    path,
    tags: ["setup"],
    summary,
    description,
    middleware: [operatorGate, jsonBody] as const,
    request: {
      headers: z.object({ "updraft-bootstrap-secret": z.string().max(1000).optional() }),
      body: json(Body),
    },
    responses: { 201: { description: "Created", ...ok(Created) }, ...adminErrors },
  });

const created = (r: Awaited<ReturnType<typeof createWorkspace>>) => ({
  workspaceId: r.workspace.id,
  memberId: r.member.id,
  tokenId: r.tokenId,
  token: r.token,
  expiresAt: r.expiresAt,
});

/** Operator and sign-in routes: outside /v1/admin, so no bearer token. */
export const bootstrapRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    operatorRoute(
      "/workspaces",
      "Create a workspace and its first admin (operator)",
      "The deployment operator's call: needs `Updraft-Bootstrap-Secret` equal to the BOOTSTRAP_SECRET secret " +
        "(disabled when that secret is unset). Returns the first admin's token once: an ordinary admin token " +
        "that expires in 90 days. Failed attempts count toward the client address's limit.",
    ),
    async (c) => {
      return c.json(created(await createWorkspace(c.var.deps, c.req.valid("json"), c.var.requestId)), 201);
    },
  )
  .openapi(
    operatorRoute(
      "/bootstrap",
      "Create the first workspace and its admin token (once)",
      "Like `POST /v1/workspaces`, but refused with 409 once any workspace exists: the one-time setup of a " +
        "fresh deployment.",
    ),
    async (c) => {
      return c.json(created(await createWorkspace(c.var.deps, c.req.valid("json"), c.var.requestId, true)), 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/workspaces/{workspaceId}/admins",
      tags: ["setup"],
      summary: "Add a person admin to a workspace (operator recovery)",
      description:
        "Only when nobody can administer a workspace any more (no person admin holds a working token; else 409): " +
        "the operator adds a person admin, who gets a one-time invite (shown once) to exchange at " +
        "`POST /v1/invites/accept`. Needs `Updraft-Bootstrap-Secret`; audited with the actor `operator`.",
      middleware: [operatorGate, jsonBody] as const,
      request: {
        params: z.object({ workspaceId: z.string().min(1).max(100) }),
        headers: z.object({ "updraft-bootstrap-secret": z.string().max(1000).optional() }),
        body: json(
          z
            .object({
              name: z.string().min(1).max(200),
              email: z.email().max(254),
              handle: z
                .string()
                .regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, "2-64 of a-z 0-9 . _ -")
                .optional(),
            })
            .strict(),
        ),
      },
      responses: {
        201: {
          description: "Created",
          ...ok(
            z
              .object({
                id: z.string(),
                role: z.string(),
                invite: z.object({ secret: z.string(), expiresAt: z.number().int() }),
              })
              .passthrough(),
          ),
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const { workspaceId } = c.req.valid("param");
      return c.json(await addOperatorAdmin(c.var.deps, workspaceId, c.req.valid("json"), c.var.requestId), 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/invites/accept",
      tags: ["setup"],
      summary: "Exchange an invite secret for your first token",
      description:
        "The member's only way in: the one-time secret from `POST /v1/admin/members` (or `/invites`) becomes a " +
        "token (90 days, full scope) shown once. Failed attempts count toward the client address's limit.",
      middleware: [jsonBody] as const,
      request: {
        body: json(
          z.object({ secret: z.string().min(1).max(200), tokenName: z.string().min(1).max(100).optional() }).strict(),
        ),
      },
      responses: {
        201: {
          description: "Created",
          ...ok(
            z.object({
              member: z.object({ id: z.string(), handle: z.string(), role: z.string() }).passthrough(),
              token: z
                .object({ id: z.string(), secret: z.string(), expiresAt: z.number().int().nullable() })
                .passthrough(),
            }),
          ),
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const r = await acceptInvite(
        c.var.deps,
        c.req.valid("json"),
        clientOf(c.req.header.bind(c.req)),
        c.var.requestId,
      );
      return c.json(r, 201);
    },
  );
