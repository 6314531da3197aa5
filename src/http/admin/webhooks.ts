import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "../../domain/errors";
import { decodeCursor } from "../../domain/paging";
import { MAX_WEBHOOK_URL_CHARS } from "../../domain/webhooks";
import type { WebhookDeliveryRecord } from "../../usecases/webhook-ports";
import { deleteWebhook, getWebhook, listWebhookDeliveries, putWebhook, testWebhook } from "../../usecases/webhooks";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const WebhookSchema = z
  .object({
    url: z.string().describe("Where notices are posted."),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi("Webhook");

const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z
    .string()
    .optional()
    .describe(
      "The key of the `updraft-signature` HMAC (`whsec_…`): present only in the answer that made it (creation, " +
        "or `rotateSecret`). Store it now: it is never shown again.",
    ),
}).openapi("WebhookWithSecret");

const STATUSES = ["pending", "delivered", "failed"] as const;

const DeliverySchema = z
  .object({
    id: z.string().describe("Also sent as the `updraft-delivery` header and the body's `id`."),
    event: z.string(),
    status: z
      .enum(STATUSES)
      .describe(
        "pending: queued or waiting for a retry; delivered: a 2xx answer; failed: 8 attempts without one, or " +
          "the webhook was deleted first",
      ),
    attempts: z.number().int(),
    lastStatus: z.number().int().nullable().describe("The last attempt's HTTP status; null when it got no answer."),
    lastError: z
      .string()
      .nullable()
      .describe("At most 200 characters of the last failed attempt's answer, or why it got none."),
    payload: z.string().describe("The exact JSON body posted (and signed)."),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi("WebhookDelivery");

const deliveryView = (d: WebhookDeliveryRecord): z.infer<typeof DeliverySchema> => ({
  id: d.id,
  event: d.event,
  status: d.status,
  attempts: d.attempts,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  payload: d.payload,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

/** The sort key a deliveries cursor names ([-createdAt, id]), or VALIDATION_FAILED like every list's cursor. */
function afterKey(cursor: string | undefined): [number, string] | null {
  if (cursor === undefined) return null;
  const key = decodeCursor(cursor);
  const [negCreated, id] = key ?? [];
  if (key?.length !== 2 || typeof negCreated !== "number" || typeof id !== "string") {
    throw new AppError("VALIDATION_FAILED", "The request query is not valid.", [
      { pointer: "/cursor", message: "Must be a nextCursor value from a previous page." },
    ]);
  }
  return [negCreated, id];
}

export const webhooksRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags: ["webhooks"],
      summary: "The workspace's webhook (never its secret)",
      description: "404 NOT_FOUND when the workspace has none (docs/webhooks.md).",
      security: SecurityBearer,
      responses: { 200: { description: "OK", ...ok(WebhookSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await getWebhook(c.var.deps, ctxOf(c)), 200),
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/",
      tags: ["webhooks"],
      summary: "Create the workspace's webhook, or change its URL",
      description:
        "Workspace admins. Health-gate notices are posted to `url`, signed (docs/webhooks.md). The URL must use " +
        "https (plain http only for localhost and 127.0.0.1) and have at most 2048 characters. A secret is made " +
        "on creation (201) and when `rotateSecret` is true, and returned only in that answer. Audited.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        body: json(
          z
            .object({
              url: z.string().min(1).max(MAX_WEBHOOK_URL_CHARS),
              rotateSecret: z.boolean().optional().describe("Make a new secret; the old one stops signing at once."),
            })
            .strict(),
        ),
      },
      responses: {
        200: { description: "Changed (or already so)", ...ok(WebhookWithSecretSchema) },
        201: { description: "Created", ...ok(WebhookWithSecretSchema) },
        ...adminErrors,
      },
    }),
    async (c) => {
      const result = await putWebhook(c.var.deps, ctxOf(c), c.req.valid("json"));
      const body = result.secret === null ? result.webhook : { ...result.webhook, secret: result.secret };
      return result.created ? c.json(body, 201) : c.json(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/",
      tags: ["webhooks"],
      summary: "Delete the workspace's webhook",
      description:
        "Workspace admins. Nothing more is sent; deliveries still pending end as `failed`. 404 NOT_FOUND when " +
        "the workspace has none. Audited.",
      security: SecurityBearer,
      responses: { 200: { description: "Deleted", ...ok(WebhookSchema) }, ...adminErrors },
    }),
    async (c) => c.json(await deleteWebhook(c.var.deps, ctxOf(c)), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/deliveries",
      tags: ["webhooks"],
      summary: "List the webhook's deliveries and their attempts, newest first",
      description: "Every notice sent or being sent, with its payload and last attempt. `status` filters.",
      security: SecurityBearer,
      request: { query: z.object({ ...PageQuery, status: z.enum(STATUSES).optional() }).strict() },
      responses: { 200: { description: "OK", ...ok(pageSchema(DeliverySchema)) }, ...adminErrors },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const filter = query.status === undefined ? {} : { status: query.status };
      // The store reads only this page (and one more, which tells whether there is a next one).
      const items = await listWebhookDeliveries(c.var.deps, ctxOf(c), filter, afterKey(query.cursor), query.limit + 1);
      return c.json(
        paged(items.map(deliveryView), (d) => [-d.createdAt, d.id], query),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/test",
      tags: ["webhooks"],
      summary: "Send a ping to the webhook",
      description:
        "Workspace admins. A `ping` event goes through the same path as every notice (signed, queued, retried); " +
        "follow it in the deliveries. 404 NOT_FOUND without a webhook. Audited.",
      security: SecurityBearer,
      responses: { 202: { description: "Queued", ...ok(DeliverySchema) }, ...adminErrors },
    }),
    async (c) => c.json(deliveryView(await testWebhook(c.var.deps, ctxOf(c))), 202),
  );
