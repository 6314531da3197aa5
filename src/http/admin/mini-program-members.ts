import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { MINI_PROGRAM_ROLES } from "../../domain/permissions";
import {
  listMiniProgramMembers,
  removeMiniProgramMember,
  setMiniProgramMember,
} from "../../usecases/manage-mini-program-members";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const Role = z
  .object({ memberId: z.string(), role: z.enum(MINI_PROGRAM_ROLES), createdAt: z.number().int().optional() })
  .openapi("MiniProgramMember");
const MpParams = z.object({ miniProgramId: z.string().min(1).max(100) });
const Params = MpParams.extend({ memberId: z.string().min(1).max(100) });

export const miniProgramMembersRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/{miniProgramId}/members",
      tags: ["mini programs"],
      summary: "The mini program's members and their roles there",
      security: SecurityBearer,
      request: { params: MpParams, query: z.object(PageQuery).strict() },
      responses: { 200: { description: "OK", ...ok(pageSchema(Role)) }, ...adminErrors },
    }),
    async (c) => {
      const items = await listMiniProgramMembers(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId);
      return c.json(
        paged(items, (m) => [m.memberId], c.req.valid("query")),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/{miniProgramId}/members/{memberId}",
      tags: ["mini programs"],
      summary: "Give a workspace member a role on the mini program (admin or developer)",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { params: Params, body: json(z.object({ role: z.enum(MINI_PROGRAM_ROLES) }).strict()) },
      responses: { 200: { description: "OK", ...ok(Role) }, ...adminErrors },
    }),
    async (c) => {
      const { miniProgramId, memberId } = c.req.valid("param");
      return c.json(
        await setMiniProgramMember(c.var.deps, ctxOf(c), miniProgramId, memberId, c.req.valid("json").role),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{miniProgramId}/members/{memberId}",
      tags: ["mini programs"],
      summary: "Take a member's role on the mini program away",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "Removed", ...ok(Role) }, ...adminErrors },
    }),
    async (c) => {
      const { miniProgramId, memberId } = c.req.valid("param");
      return c.json(await removeMiniProgramMember(c.var.deps, ctxOf(c), miniProgramId, memberId), 200);
    },
  );
