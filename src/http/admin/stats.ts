import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { METRICS } from "../../domain/stats/release-stats";
import { releaseStats } from "../../usecases/release-stats";
import { ctxOf } from "../auth";
import { adminErrors, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

/** A time in a query: ms since the epoch, or an ISO 8601 date-time. */
export const TimeQuery = z
  .string()
  .max(40)
  .transform((text, ctx) => {
    const ms = /^\d{1,16}$/.test(text) ? Number(text) : /^\d{4}-\d\d-\d\dT/.test(text) ? Date.parse(text) : Number.NaN;
    if (!Number.isSafeInteger(ms)) {
      ctx.addIssue({ code: "custom", message: "Must be ms since the epoch or an ISO 8601 date-time." });
      return z.NEVER;
    }
    return ms;
  })
  .openapi({ type: "string", example: "2026-12-04T10:00:00Z" });

const MetricCounts = z.object(
  Object.fromEntries(METRICS.map((m) => [m, z.number().int()])) as Record<(typeof METRICS)[number], z.ZodNumber>,
);

const Devices = z.object({ estimate: z.number().int(), standardError: z.number().int() });

const StatsSchema = z
  .object({
    releaseId: z.string(),
    from: z.number().int().describe("Start of the first bucket (ms), `from` rounded down to the step"),
    to: z.number().int().describe("End of the last bucket (ms), `to` rounded up to the step"),
    step: z.enum(["minute", "hour"]),
    totals: MetricCounts.extend({
      attempts: z.number().int().describe("Downloads started: download_ok + download_failed"),
      failures: z.number().int().describe("download_failed + install_failed + launch_failed, at most attempts"),
      failureRateBasisPoints: z
        .number()
        .nullable()
        .describe("failures / attempts in basis points; null with no attempts"),
    }).describe("Exact counts over the range (each event id counted once per device)"),
    devices: z
      .record(z.string(), Devices)
      .describe("Distinct devices per metric over `devicesRange` (whole hours): HyperLogLog estimates, ±1.6 % (1 σ)"),
    devicesRange: z.object({ from: z.number().int(), to: z.number().int() }),
    buckets: z.array(z.object({ at: z.number().int(), counts: MetricCounts })),
  })
  .openapi("ReleaseStats");

export const statsRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook }).openapi(
  createRoute({
    method: "get",
    path: "/{releaseId}/stats",
    tags: ["statistics"],
    summary: "A release's statistics: offers, downloads, installs, launches, failures",
    description:
      "Counts per bucket and in total, the failure rate health gates judge, and distinct devices (docs/statistics.md). " +
      "`step=minute` covers the last 24 hours, at most 1,440 buckets; `step=hour` (the default) at most 90 days. " +
      "Defaults: the 24 hours up to now. Buckets with no counts are left out.",
    security: SecurityBearer,
    request: {
      params: z.object({ releaseId: z.string().min(1).max(128) }),
      query: z
        .object({ from: TimeQuery.optional(), to: TimeQuery.optional(), step: z.enum(["minute", "hour"]).optional() })
        .strict(),
    },
    responses: {
      200: { description: "OK", content: { "application/json": { schema: StatsSchema } } },
      ...adminErrors,
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    return c.json(await releaseStats(c.var.deps, ctxOf(c), c.req.valid("param").releaseId, query), 200);
  },
);
