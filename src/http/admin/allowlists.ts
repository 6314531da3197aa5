import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "../../domain/errors";
import { looksLikeId } from "../../domain/keys";
import {
  createAllowlist,
  deleteAllowlist,
  getAllowlist,
  getAllowlistEntries,
  listAllowlists,
  uploadAllowlistEntries,
} from "../../usecases/manage-allowlists";
import { ctxOf } from "../auth";
import { readBodyWithLimit } from "../body";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, budgetErrors, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

/** A list's name: 1-100 letters, digits, dots, dashes or underscores (and not shaped like an id). */
export const LIST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Largest list upload: 1,000,000 ids of up to ~60 characters. */
export const LIST_BODY_LIMIT = 64 * 1024 * 1024;

const AllowlistSchema = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    name: z.string(),
    kind: z.enum(["user", "device"]),
    contentVersion: z.number().int(),
    exactCount: z.number().int(),
    shardCount: z.number().int(),
    regexEntries: z
      .array(z.string())
      .optional()
      .openapi({ description: "Shown only to those who may read the list's entries (admins, reviewers)." }),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    rowVersion: z.number().int(),
  })
  .openapi("Allowlist");

const Params = z.object({ allowlistId: z.string().min(1).max(100) });

/** A list as the API shows it: without `contentKey`, the internal storage key of its content. */
function view<T extends { contentKey: string }>(list: T): Omit<T, "contentKey"> {
  const { contentKey: _, ...shown } = list;
  return shown;
}
const ok = (schema: z.ZodType) => ({ content: { "application/json": { schema } } });
const entriesBody = {
  content: { "text/plain": { schema: z.string().openapi({ example: "user-1\nuser-2\nre:^qa-[0-9]{1,6}$" }) } },
  required: true,
};

/** A text/plain body of entries (at most LIST_BODY_LIMIT bytes), decoded as strict UTF-8. */
export async function readEntries(request: Request): Promise<string> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "text/plain") throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Entries must be sent as text/plain.");
  return decodeEntries(await readBodyWithLimit(request, LIST_BODY_LIMIT));
}

/** Uploaded entries as text: VALIDATION_FAILED unless strict UTF-8. */
export function decodeEntries(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new AppError("VALIDATION_FAILED", "The entries are not valid UTF-8.");
  }
}

const upload = (method: "put" | "post", summary: string) =>
  createRoute({
    method,
    path: "/{allowlistId}/entries",
    tags: ["allowlists"],
    summary,
    description:
      "One entry per line (user or device ids, per the list's kind); a line starting with `re:` is a bounded " +
      "regex entry in RE2 syntax (at most 50 patterns costing at most 500 regex units together; see docs/targeting.md). Up to 1,000,000 exact entries, 64 MiB.",
    security: SecurityBearer,
    request: { params: Params, body: entriesBody },
    responses: {
      200: { description: "The list's new metadata", ...ok(AllowlistSchema) },
      ...adminErrors,
      ...budgetErrors,
    },
  });

export const allowlistsRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags: ["allowlists"],
      summary: "Create a named allowlist (or denylist) of user ids or device ids",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        body: {
          content: {
            "application/json": {
              schema: z
                .object({
                  name: z
                    .string()
                    .regex(LIST_NAME, "1-100 letters, digits, dots, dashes or underscores.")
                    .refine((v) => !looksLikeId(v), "Must not start like a generated id (such as al_ or mp_)."),
                  kind: z.enum(["user", "device"]),
                })
                .strict(),
            },
          },
          required: true,
        },
      },
      responses: { 201: { description: "Created", ...ok(AllowlistSchema) }, ...adminErrors },
    }),
    async (c) => c.json(view(await createAllowlist(c.var.deps, ctxOf(c), c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["allowlists"],
      summary: "List allowlists",
      security: SecurityBearer,
      request: { query: z.object(PageQuery).strict() },
      responses: { 200: { description: "OK", ...ok(pageSchema(AllowlistSchema)) }, ...adminErrors },
    }),
    async (c) =>
      c.json(
        paged((await listAllowlists(c.var.deps, ctxOf(c))).map(view), (l) => [l.name], c.req.valid("query")),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{allowlistId}",
      tags: ["allowlists"],
      summary: "Get an allowlist by id or name",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "OK", ...ok(AllowlistSchema) }, ...adminErrors },
    }),
    async (c) => c.json(view(await getAllowlist(c.var.deps, ctxOf(c), c.req.valid("param").allowlistId)), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{allowlistId}",
      tags: ["allowlists"],
      summary: "Delete an allowlist and its entries",
      description:
        "Refused with 409 LIST_IN_USE while a release that is not ended, archived or cancelled refers to it.",
      security: SecurityBearer,
      request: { params: Params },
      responses: {
        200: {
          description: "Deleted: the list's metadata",
          ...ok(AllowlistSchema.omit({ regexEntries: true })),
        },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await deleteAllowlist(c.var.deps, ctxOf(c), c.req.valid("param").allowlistId), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{allowlistId}/entries",
      tags: ["allowlists"],
      summary: "Download the entries (upload format)",
      security: SecurityBearer,
      request: { params: Params },
      responses: { 200: { description: "OK", content: { "text/plain": { schema: z.string() } } }, ...adminErrors },
    }),
    async (c) => c.text(await getAllowlistEntries(c.var.deps, ctxOf(c), c.req.valid("param").allowlistId), 200),
  )
  .openapi(upload("put", "Replace all entries"), async (c) => {
    const list = await uploadAllowlistEntries(c.var.deps, ctxOf(c), {
      idOrName: c.req.valid("param").allowlistId,
      mode: "replace",
      readBody: () => readEntries(c.req.raw),
    });
    return c.json(view(list), 200);
  })
  .openapi(upload("post", "Add entries to the existing ones"), async (c) => {
    const list = await uploadAllowlistEntries(c.var.deps, ctxOf(c), {
      idOrName: c.req.valid("param").allowlistId,
      mode: "append",
      readBody: () => readEntries(c.req.raw),
    });
    return c.json(view(list), 200);
  });
