import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { EVENT_LIMITS, EVENT_TYPES, EVENT_WIRE_LIMITS } from "../../domain/stats/event-batch";
import type { Deps } from "../../usecases/ports";
import { recordEvents } from "../../usecases/record-events";
import { parseJson, readJsonText } from "../json-body";
import { problemResponse } from "../schemas";
import type { HttpEnv } from "../types";

/** Largest event batch body: 100 events of bounded fields fit with room to spare. */
export const EVENTS_BODY_LIMIT = EVENT_WIRE_LIMITS.bodyBytes;

const Event = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .describe("Chosen by the device, unique per device: an event sent again (a retried batch) is counted once"),
    type: z.enum(EVENT_TYPES),
    miniProgram: z.string().max(EVENT_LIMITS.miniProgram).describe("The mini program's key, as in checks"),
    version: z.string().max(EVENT_LIMITS.version),
    releaseId: z
      .string()
      .max(EVENT_LIMITS.releaseId)
      .describe("The `releaseId` of the check result that offered the version"),
    at: z
      .number()
      .int()
      .describe("When it happened on the device, ms since the epoch: at most 7 days old, 1 day ahead"),
    errorCode: z
      .string()
      .regex(/^[A-Z0-9_]{1,64}$/)
      .nullable()
      .optional()
      .describe("A failure's code (the SDK sends its error codes)"),
  })
  .strict()
  .openapi("DeviceEvent");

const EventBatch = z
  .object({
    appId: z.string().max(EVENT_LIMITS.appId),
    env: z.string().max(EVENT_LIMITS.env),
    deviceId: z.string().max(EVENT_LIMITS.deviceId),
    events: z.array(Event).min(1).max(EVENT_LIMITS.events),
  })
  .strict()
  .openapi("DeviceEventBatch");

const eventsRoute = createRoute({
  method: "post",
  path: "/events",
  tags: ["device"],
  summary: "Report device events (downloads, installs, launches, rollbacks)",
  description:
    "Batched, at most 100 events per request. Validated strictly; answered 202 without waiting for them to be " +
    "counted (they are counted within seconds, docs/statistics.md). Events of unknown releases are dropped without " +
    "saying so. An event id is counted once per device, whatever how often it is sent. Limited per device.",
  request: { body: { content: { "application/json": { schema: EventBatch } }, required: true } },
  responses: {
    202: {
      description: "Accepted",
      content: { "application/json": { schema: z.object({ accepted: z.number().int() }).openapi("EventsAccepted") } },
    },
    400: problemResponse("Malformed JSON or validation failure (VALIDATION_FAILED lists each field)"),
    413: problemResponse("Body over 64 KiB"),
    415: problemResponse("Not JSON, or a content-coded body"),
    429: problemResponse("RATE_LIMITED: this device sent more events than it may (Retry-After)"),
    503: problemResponse(
      "SERVICE_MISCONFIGURED: statistics are off or have no key; SERVICE_UNAVAILABLE: events cannot be queued now (Retry-After)",
    ),
  },
});

/** Answers `POST /v1/events` from the raw request, before the Hono router (createFetchHandler). */
export async function answerEvents(
  request: Request,
  deps: Deps,
  requestId: string,
  ctx?: ExecutionContext,
): Promise<Response> {
  const body = parseJson(await readJsonText(request, EVENTS_BODY_LIMIT));
  const { accepted, flush } = recordEvents(deps.events, body, deps.clock.now());
  if (ctx) for (const f of flush) ctx.waitUntil(f);
  return new Response(JSON.stringify({ accepted }), {
    status: 202,
    headers: { "content-type": "application/json", "cache-control": "no-store", "request-id": requestId },
  });
}

/** The route in the OpenAPI document only: requests are answered by `answerEvents` before the router. */
export const eventsRouter = new OpenAPIHono<HttpEnv>();
eventsRouter.openAPIRegistry.registerPath(eventsRoute);
