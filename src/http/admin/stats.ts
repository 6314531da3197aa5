import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { METRICS } from "../../domain/stats/release-stats";
import { estimateAudience, MAX_WINDOW_DAYS } from "../../usecases/estimate-audience";
import { releaseHealth, setHealthPolicy } from "../../usecases/health-gates";
import { installedVersions, releaseStats } from "../../usecases/release-stats";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
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

const Reach = z.object({ devices: z.number().int(), standardError: z.number().int() });

const EstimateSchema = z
  .object({
    releaseId: z.string(),
    window: z.object({ days: z.number().int(), from: z.number().int(), to: z.number().int() }),
    sampled: z.number().int().describe("Devices in the sample (at most 10,000)"),
    population: z
      .number()
      .int()
      .describe("Devices seen on the target in the window: exact when `exact`, else estimated"),
    exact: z.boolean().describe("Whether the sample holds every device seen (fewer than 10,000)"),
    current: Reach.describe("Devices the release reaches today (canary: its targeting; full: all asking)"),
    proposed: Reach.describe("Devices the proposed targeting would reach"),
    more: Reach.describe("proposed − current"),
    timeWindowCap: z.number().int().nullable().describe("A proposed time window admits at most this many more"),
  })
  .openapi("AudienceEstimate");

const EstimateBody = z
  .object({
    targeting: z.record(z.string(), z.unknown()).optional().describe("A whole targeting, as PUT …/targeting takes it"),
    percentage: z.number().int().min(0).max(10_000).optional().describe("Or today's targeting at this percentage (bp)"),
    rampStep: z.number().int().min(0).max(99).optional().describe("Or today's targeting at this step of its ramp"),
    windowDays: z
      .number()
      .int()
      .min(1)
      .max(MAX_WINDOW_DAYS)
      .optional()
      .describe("Devices seen over this many days (default 7)"),
  })
  .strict();

export const statsRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
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
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{releaseId}/estimate",
      tags: ["statistics"],
      summary: "Estimate how many devices a proposed targeting would reach",
      description:
        "From the target's sample of the devices its checks saw (bottom-k by keyed hash, k = 10,000, per day, merged over " +
        "the window): the devices the release reaches today, those the proposal would reach, and the difference, each " +
        "with one standard error (docs/statistics.md). Give a whole `targeting`, or a `percentage` or `rampStep` applied " +
        "to today's. Writes nothing.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: z.object({ releaseId: z.string().min(1).max(128) }),
        body: { content: { "application/json": { schema: EstimateBody } }, required: true },
      },
      responses: {
        200: { description: "OK", content: { "application/json": { schema: EstimateSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return c.json(await estimateAudience(c.var.deps, ctxOf(c), c.req.valid("param").releaseId, body), 200);
    },
  );

const InstalledSchema = z
  .object({
    miniProgramId: z.string(),
    appId: z.string(),
    env: z.string(),
    from: z.number().int(),
    to: z.number().int(),
    buckets: z.array(
      z.object({
        at: z.number().int(),
        versions: z.record(z.string(), z.object({ checks: z.number().int(), devices: z.number().int() })),
      }),
    ),
  })
  .openapi("InstalledVersions");

const HealthPolicyBody = z
  .object({
    failureRateBasisPoints: z.number().int().describe("Threshold on the failure rate's Wilson lower bound (100 = 1 %)"),
    minAttempts: z.number().int().optional().describe("Attempts in the window before the gate judges (default 20)"),
    minFailures: z.number().int().optional().describe("Failures in the window before the gate acts (default 5)"),
    confidence: z.number().optional().describe("0.9, 0.95 (default) or 0.99"),
    action: z.enum(["pause", "end", "notify"]).optional().describe("What a breach does (default pause)"),
    cooldownMs: z.number().int().optional().describe("After an automatic action, none for this long (default 10 min)"),
    windowMs: z.number().int().optional().describe("Counts over this window, whole minutes (default 60 min)"),
  })
  .strict()
  .openapi("HealthPolicy");

const HealthSchema = z
  .object({
    releaseId: z.string(),
    status: z.string(),
    policy: z.record(z.string(), z.unknown()).nullable(),
    last: z
      .object({
        verdict: z.enum(["healthy", "insufficient_data", "breached", "cooling_down"]),
        reason: z.string(),
        lowerBoundBasisPoints: z.number(),
        attempts: z.number().int(),
        failures: z.number().int(),
        at: z.number().int(),
        action: z.string().nullable(),
      })
      .nullable()
      .describe("The last judgement of the gate (about every 30 s while the release is a canary)"),
    lastActionAt: z.number().int().nullable(),
    ramp: z.object({
      committedSteps: z.number().int(),
      pendingSteps: z.array(z.object({ at: z.number().int(), basisPoints: z.number().int() })),
      holding: z
        .string()
        .nullable()
        .describe("Why the ramp does not advance, when a step is due and the gate is not healthy"),
    }),
  })
  .openapi("ReleaseHealth");

const ReleaseParams = z.object({ releaseId: z.string().min(1).max(128) });

/** Health gates, mounted at /v1/admin/releases. */
export const healthRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "put",
      path: "/{releaseId}/health-policy",
      tags: ["statistics"],
      summary: "Set a release's health gate",
      description:
        "While the release is a canary its monitor judges the gate about every 30 s on the counts of the policy's " +
        "window: a breach pauses, ends or only notifies (webhook), audited as `system:health-gate`; a phased ramp " +
        "advances only by steps the monitor commits while the gate is healthy (docs/statistics.md).",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: {
        params: ReleaseParams,
        body: { content: { "application/json": { schema: HealthPolicyBody } }, required: true },
      },
      responses: {
        200: { description: "OK", content: { "application/json": { schema: HealthSchema } } },
        ...adminErrors,
      },
    }),
    async (c) =>
      c.json(await setHealthPolicy(c.var.deps, ctxOf(c), c.req.valid("param").releaseId, c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{releaseId}/health-policy",
      tags: ["statistics"],
      summary: "Remove a release's health gate (a ramp then follows the clock again)",
      security: SecurityBearer,
      request: { params: ReleaseParams },
      responses: {
        200: { description: "OK", content: { "application/json": { schema: HealthSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await setHealthPolicy(c.var.deps, ctxOf(c), c.req.valid("param").releaseId, null), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{releaseId}/health",
      tags: ["statistics"],
      summary: "A release's health gate: policy, last verdict, and why a gated ramp holds",
      security: SecurityBearer,
      request: { params: ReleaseParams },
      responses: {
        200: { description: "OK", content: { "application/json": { schema: HealthSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => c.json(await releaseHealth(c.var.deps, ctxOf(c), c.req.valid("param").releaseId), 200),
  );

/** Mounted at /v1/admin/mini-programs. */
export const installedRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook }).openapi(
  createRoute({
    method: "get",
    path: "/{miniProgramId}/installed-versions",
    tags: ["statistics"],
    summary: "The installed versions of a mini program on a target, per hour, from checks",
    description:
      "Per hour and version: the checks that reported it installed and the distinct devices (HyperLogLog, ±1.6 %). " +
      "`appId` is the app's key and `env` the environment's name; at most 30 days, default the last 24 hours.",
    security: SecurityBearer,
    request: {
      params: z.object({ miniProgramId: z.string().min(1).max(128) }),
      query: z
        .object({
          appId: z.string().min(1).max(100),
          env: z.string().min(1).max(32),
          from: TimeQuery.optional(),
          to: TimeQuery.optional(),
        })
        .strict(),
    },
    responses: {
      200: { description: "OK", content: { "application/json": { schema: InstalledSchema } } },
      ...adminErrors,
    },
  }),
  async (c) => {
    const query = c.req.valid("query");
    return c.json(await installedVersions(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId, query), 200);
  },
);
