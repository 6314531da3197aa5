import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { listAudit } from "../../usecases/list-audit";
import { ctxOf } from "../auth";
import { adminErrors, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const AuditSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    actorMemberId: z.string(),
    actorTokenId: z.string(),
    action: z.string(),
    resourceType: z.string(),
    resourceId: z.string(),
    before: z.unknown(),
    after: z.unknown(),
    requestId: z.string(),
    createdAt: z.number().int(),
  })
  .openapi("AuditEntry");

const Query = z
  .object({
    cursor: z
      .string()
      .regex(/^\d{1,15}~[0-9a-z_]{1,80}$/, "Must be a nextCursor value from a previous page.")
      .optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    actor: z.string().min(1).max(100).optional(),
    resourceType: z.string().min(1).max(100).optional(),
    resourceId: z.string().min(1).max(100).optional(),
    action: z.string().min(1).max(100).optional(),
    from: z.coerce.number().int().nonnegative().optional(),
    to: z.coerce.number().int().nonnegative().optional(),
  })
  .strict();

export const auditRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook }).openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["audit"],
    summary: "The workspace audit log, newest first",
    description:
      "Filters: `actor` (a member id), `resourceType`, `resourceId`, `action`, and a time range `from` " +
      "(inclusive) to `to` (exclusive) in ms since the epoch. An actor or resource unknown to the workspace is a 404.",
    security: SecurityBearer,
    request: { query: Query },
    responses: {
      200: {
        description: "OK",
        content: {
          "application/json": { schema: z.object({ items: z.array(AuditSchema), nextCursor: z.string().nullable() }) },
        },
      },
      ...adminErrors,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const filter = {
      ...(q.actor === undefined ? {} : { actorMemberId: q.actor }),
      ...(q.resourceType === undefined ? {} : { resourceType: q.resourceType }),
      ...(q.resourceId === undefined ? {} : { resourceId: q.resourceId }),
      ...(q.action === undefined ? {} : { action: q.action }),
      ...(q.from === undefined ? {} : { from: q.from }),
      ...(q.to === undefined ? {} : { to: q.to }),
    };
    return c.json(await listAudit(c.var.deps, ctxOf(c), filter, q.cursor ?? null, q.limit), 200);
  },
);
