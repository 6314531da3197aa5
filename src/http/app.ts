import { OpenAPIHono } from "@hono/zod-openapi";
import type { Deps } from "../usecases/ports";
import { routeGate, strictQuery } from "./access";
import { allowlistsRouter } from "./admin/allowlists";
import { appsRouter } from "./admin/apps";
import { auditRouter } from "./admin/audit";
import { catalogueRouter } from "./admin/catalogue";
import { explainRouter } from "./admin/explain";
import { membersRouter } from "./admin/members";
import { miniProgramMembersRouter } from "./admin/mini-program-members";
import { miniProgramsRouter } from "./admin/mini-programs";
import { publisherKeysRouter } from "./admin/publisher-keys";
import { qrCodesRouter } from "./admin/qr-codes";
import { releasesRouter } from "./admin/releases";
import { healthRouter, installedRouter, statsRouter } from "./admin/stats";
import { tokensRouter } from "./admin/tokens";
import { versionsRouter } from "./admin/versions";
import { webhooksRouter } from "./admin/webhooks";
import { workspaceRouter } from "./admin/workspace";
import { requireToken } from "./auth";
import { bootstrapRouter } from "./bootstrap";
import { answerCheck, checkRouter, pathStart } from "./client/check";
import { answerEvents, eventsRouter } from "./client/events";
import { keysRouter } from "./client/keys";
import { packagesRouter } from "./client/packages";
import { consoleRouter } from "./console/router";
import { errorResponse, newRequestId, problem } from "./problem";
import type { HttpEnv } from "./types";

/**
 * The whole HTTP surface. `depsFor` is the composition root's factory; handlers only ever see ports.
 */
function createHttpApp(depsFor: (bindings: never) => Deps) {
  const app = new OpenAPIHono<HttpEnv>();

  app.use("*", async (c, next) => {
    c.set("requestId", newRequestId());
    c.set("deps", depsFor(c.env as never));
    await next();
    c.header("request-id", c.var.requestId);
  });

  // Never stored by a cache in front of the Worker (Workers Cache, a CDN): a health check must reach it.
  app.get("/healthz", (c) => c.text("ok", 200, { "cache-control": "no-store" }));

  const takesQuery = new Set<string>();
  app.use("/v1/admin/*", requireToken, routeGate, strictQuery(takesQuery));
  app.route("/v1/admin/workspace", workspaceRouter);
  app.route("/v1/admin/members", membersRouter);
  app.route("/v1/admin/tokens", tokensRouter);
  app.route("/v1/admin/apps", appsRouter);
  app.route("/v1/admin/mini-programs", miniProgramsRouter);
  app.route("/v1/admin/mini-programs", miniProgramMembersRouter);
  app.route("/v1/admin/mini-programs", versionsRouter);
  app.route("/v1/admin/mini-programs", installedRouter);
  app.route("/v1/admin/releases", releasesRouter);
  app.route("/v1/admin/releases", qrCodesRouter);
  app.route("/v1/admin/releases", statsRouter);
  app.route("/v1/admin/releases", healthRouter);
  app.route("/v1/admin", catalogueRouter);
  app.route("/v1/admin/publisher-keys", publisherKeysRouter);
  app.route("/v1/admin/audit-logs", auditRouter);
  app.route("/v1/admin/allowlists", allowlistsRouter);
  app.route("/v1/admin/explain", explainRouter);
  app.route("/v1/admin/webhook", webhooksRouter);
  app.route("/v1", bootstrapRouter);
  app.route("/v1", checkRouter);
  app.route("/v1", eventsRouter);
  app.route("/v1", packagesRouter);
  app.route("/v1", keysRouter);
  app.route("/console", consoleRouter as never);

  for (const d of app.openAPIRegistry.definitions) {
    if (d.type === "route" && d.route.request?.query) takesQuery.add(`${d.route.method.toUpperCase()} ${d.route.path}`);
  }

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Updraft",
      version: "1.0.0",
      description: "Update delivery for mini programs: device protocol (/v1/check, /v1/packages) and admin API.",
    },
  });

  app.notFound((c) => problem(c, "ROUTE_NOT_FOUND", "No route matches this method and path."));

  app.onError((error, c) => errorResponse(error, c.var.requestId ?? "unknown"));

  return app;
}

/**
 * The Worker's fetch handler. `POST /v1/check`, the hot path every device polls, and `POST
 * /v1/events`, which devices send as often, are answered before the router: Hono's dispatch measured
 * about 140 µs of workerd CPU per check (docs/performance.md). They get the same request id and
 * problem responses as routed requests; the router only documents them. Every other request goes
 * through Hono.
 */
export function createFetchHandler<E>(depsFor: (bindings: E) => Deps) {
  const app = createHttpApp(depsFor as (bindings: never) => Deps);
  return async (request: Request, env: E, ctx: ExecutionContext): Promise<Response> => {
    const url = request.url;
    const device = request.method === "POST" ? devicePath(url) : null;
    if (device === null) return app.fetch(request, env as never, ctx);
    const requestId = newRequestId();
    try {
      return device === "/v1/check"
        ? await answerCheck(request, url, depsFor(env), requestId, ctx)
        : await answerEvents(request, depsFor(env), requestId, ctx);
    } catch (error) {
      return errorResponse(error, requestId);
    }
  };
}

/** The path when it is one of the device routes answered before the router, else null. */
function devicePath(url: string): "/v1/check" | "/v1/events" | null {
  const start = pathStart(url);
  const end = url.indexOf("?", start);
  const path = end === -1 ? url.slice(start) : url.slice(start, end);
  return path === "/v1/check" || path === "/v1/events" ? path : null;
}
