import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { MINI_PROGRAM_ROLES, WORKSPACE_ROLES } from "../../domain/permissions";
import {
  addMember,
  getMember,
  listMembers,
  reinviteMember,
  removeMember,
  updateMember,
} from "../../usecases/manage-members";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

/** A handle: 2-64 lower-case letters, digits, dots, dashes or underscores (or an e-mail address). */
const HANDLE = /^[a-z0-9][a-z0-9._-]{1,63}$/;
const Handle = z
  .string()
  .max(254)
  .refine(
    (v) => HANDLE.test(v) || z.email().safeParse(v).success,
    "Must be a handle (2-64 of a-z 0-9 . _ -) or an e-mail address.",
  );

const MemberSchema = z
  .object({
    id: z.string(),
    handle: z.string(),
    name: z.string(),
    email: z.string().nullable(),
    kind: z.enum(["person", "service"]),
    role: z.enum(WORKSPACE_ROLES),
    createdBy: z.string().nullable(),
    createdAt: z.number().int(),
    removedAt: z.number().int().nullable(),
  })
  .openapi("Member");

const Invite = z.object({ secret: z.string(), expiresAt: z.number().int() }).openapi("Invite");

const MiniProgramRoles = z
  .array(z.object({ miniProgramId: z.string().min(1).max(100), role: z.enum(MINI_PROGRAM_ROLES) }).strict())
  .max(100);

const AddMember = z
  .object({
    kind: z.enum(["person", "service"]).default("person"),
    name: z.string().min(1).max(200),
    handle: Handle.optional(),
    email: z.email().max(254).optional(),
    role: z.enum(WORKSPACE_ROLES),
    miniProgramRoles: MiniProgramRoles.optional(),
  })
  .strict()
  .refine((v) => v.handle !== undefined || v.email !== undefined, {
    message: "Give a handle or an e-mail address.",
    path: ["handle"],
  })
  .openapi("AddMember");

const Params = z.object({ memberId: z.string().min(1).max(100) });

export const membersRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["members"],
      summary: "List the workspace's members and service accounts",
      security: SecurityBearer,
      request: {
        query: z.object({ ...PageQuery, includeRemoved: z.enum(["true", "false"]).optional() }).strict(),
      },
      responses: { 200: { description: "OK", ...ok(pageSchema(MemberSchema)) }, ...adminErrors },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const items = await listMembers(c.var.deps, ctxOf(c), query.includeRemoved === "true");
      return c.json(
        paged(items, (m) => [m.handle, m.id], query),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["members"],
      summary: "Add a member (returns a one-time invite) or a service account",
      description:
        "A person gets an invite: a one-time secret (shown once, valid 7 days) they exchange for their first " +
        "token at `POST /v1/invites/accept`. A service account (`kind: service`) has no invite; an admin creates " +
        "its tokens with `POST /v1/admin/tokens` and `memberId`.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { body: json(AddMember) },
      responses: {
        201: { description: "Created", ...ok(MemberSchema.extend({ invite: Invite.nullable() })) },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await addMember(c.var.deps, ctxOf(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{memberId}",
      tags: ["members"],
      summary: "A member with its mini program roles",
      security: SecurityBearer,
      request: { params: Params },
      responses: {
        200: {
          description: "OK",
          ...ok(
            MemberSchema.extend({
              miniProgramRoles: z.array(z.object({ miniProgramId: z.string(), role: z.enum(MINI_PROGRAM_ROLES) })),
            }),
          ),
        },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await getMember(c.var.deps, ctxOf(c), c.req.valid("param").memberId), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/{memberId}",
      tags: ["members"],
      summary: "Change a member's workspace role or name",
      description: "Demoting the workspace's last admin is refused with 409 LAST_ADMIN.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: Params,
        body: json(
          z.object({ role: z.enum(WORKSPACE_ROLES).optional(), name: z.string().min(1).max(200).optional() }).strict(),
        ),
      },
      responses: { 200: { description: "OK", ...ok(MemberSchema) }, ...adminErrors },
    }),
    async (c) =>
      c.json(await updateMember(c.var.deps, ctxOf(c), c.req.valid("param").memberId, c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{memberId}",
      tags: ["members"],
      summary: "Remove a member: its tokens stop working on the next request",
      description: "Removing the workspace's last admin is refused with 409 LAST_ADMIN.",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "Removed", ...ok(MemberSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await removeMember(c.var.deps, ctxOf(c), c.req.valid("param").memberId), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{memberId}/invites",
      tags: ["members"],
      summary: "A new one-time invite for a person (older invites stop working)",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 201: { description: "Created", ...ok(Invite) }, ...adminErrors },
    }),
    async (c) => c.json(await reinviteMember(c.var.deps, ctxOf(c), c.req.valid("param").memberId), 201),
  );
