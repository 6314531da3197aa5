import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "../domain/errors";
import { bootstrapWorkspace } from "../usecases/bootstrap-workspace";
import { jsonBody } from "./json-body";
import { adminErrors } from "./schemas";
import type { HttpEnv } from "./types";
import { validationHook } from "./validate";

const Body = z
  .object({
    workspaceName: z.string().min(1).max(200),
    adminName: z.string().min(1).max(200),
    adminEmail: z.string().email().max(254),
  })
  .strict();

/** Constant-time comparison of two strings' UTF-8 bytes. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export const bootstrapRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook }).openapi(
  createRoute({
    method: "post",
    path: "/bootstrap",
    tags: ["setup"],
    summary: "Create the first workspace and its admin token (once)",
    description:
      "Needs `Updraft-Bootstrap-Secret` equal to the BOOTSTRAP_SECRET secret; disabled when that secret is unset. " +
      "Refused with 409 once any workspace exists. The token is shown once.",
    middleware: [jsonBody] as const,
    request: { body: { content: { "application/json": { schema: Body } }, required: true } },
    responses: {
      201: {
        description: "Created",
        content: {
          "application/json": {
            schema: z.object({ workspaceId: z.string(), memberId: z.string(), token: z.string() }),
          },
        },
      },
      ...adminErrors,
    },
  }),
  async (c) => {
    const secret = c.env.BOOTSTRAP_SECRET;
    const given = c.req.header("updraft-bootstrap-secret") ?? "";
    if (!secret || !sameSecret(secret, given)) {
      throw new AppError("UNAUTHENTICATED", "Bootstrap is disabled or the bootstrap secret is wrong.");
    }
    const r = await bootstrapWorkspace(c.var.deps, c.req.valid("json"), c.var.requestId);
    return c.json({ workspaceId: r.workspace.id, memberId: r.member.id, token: r.token }, 201);
  },
);
