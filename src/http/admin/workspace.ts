import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { getWorkspace, updateWorkspace } from "../../usecases/manage-workspace";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const WorkspaceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    allowSelfApproval: z.boolean(),
    requireSignedUploads: z.boolean().describe("Every upload must carry a valid publisher signature."),
    createdAt: z.number().int(),
  })
  .openapi("Workspace");

const view = (w: z.infer<typeof WorkspaceSchema>) => ({
  id: w.id,
  name: w.name,
  allowSelfApproval: w.allowSelfApproval,
  requireSignedUploads: w.requireSignedUploads,
  createdAt: w.createdAt,
});

export const workspaceRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["workspace"],
      summary: "The token's workspace and its settings",
      security: SecurityBearer,
      responses: { 200: { description: "OK", ...ok(WorkspaceSchema) }, ...adminErrors },
    }),
    async (c) => c.json(view(await getWorkspace(c.var.deps, ctxOf(c))), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/",
      tags: ["workspace"],
      summary: "Rename the workspace or change its settings",
      description:
        "`allowSelfApproval`: whether a member may approve a release they submitted (default false). " +
        "`requireSignedUploads`: whether every upload must carry a valid publisher signature (docs/publishing.md).",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        body: json(
          z
            .object({
              name: z.string().min(1).max(200).optional(),
              allowSelfApproval: z.boolean().optional(),
              requireSignedUploads: z.boolean().optional(),
            })
            .strict(),
        ),
      },
      responses: { 200: { description: "OK", ...ok(WorkspaceSchema) }, ...adminErrors },
    }),
    async (c) => c.json(view(await updateWorkspace(c.var.deps, ctxOf(c), c.req.valid("json"))), 200),
  );
