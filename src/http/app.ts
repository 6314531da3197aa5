import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { AppError } from "../domain/errors";
import type { Deps } from "../usecases/ports";
import { allowlistsRouter } from "./admin/allowlists";
import { appsRouter } from "./admin/apps";
import { auditRouter } from "./admin/audit";
import { explainRouter } from "./admin/explain";
import { miniProgramsRouter } from "./admin/mini-programs";
import { releasesRouter } from "./admin/releases";
import { versionsRouter } from "./admin/versions";
import { requireToken } from "./auth";
import { bootstrapRouter } from "./bootstrap";
import { checkRouter } from "./client/check";
import { keysRouter } from "./client/keys";
import { packagesRouter } from "./client/packages";
import { problem } from "./problem";
import type { HttpEnv } from "./types";

/**
 * The whole HTTP surface. `depsFor` is the composition root's factory; handlers only ever see ports.
 */
export function createHttpApp(depsFor: (bindings: never) => Deps) {
  const app = new OpenAPIHono<HttpEnv>();

  app.use("*", async (c, next) => {
    c.set("requestId", `req_${crypto.randomUUID().replaceAll("-", "")}`);
    c.set("deps", depsFor(c.env as never));
    await next();
    c.header("request-id", c.var.requestId);
  });

  app.get("/healthz", (c) => c.text("ok"));

  app.use("/v1/admin/*", requireToken);
  app.route("/v1/admin/apps", appsRouter);
  app.route("/v1/admin/mini-programs", miniProgramsRouter);
  app.route("/v1/admin/mini-programs", versionsRouter);
  app.route("/v1/admin/releases", releasesRouter);
  app.route("/v1/admin/audit-logs", auditRouter);
  app.route("/v1/admin/allowlists", allowlistsRouter);
  app.route("/v1/admin/explain", explainRouter);
  app.route("/v1", bootstrapRouter);
  app.route("/v1", checkRouter);
  app.route("/v1", packagesRouter);
  app.route("/v1", keysRouter);

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

  app.onError((error, c) => {
    if (error instanceof AppError) return problem(c, error.code, error.message, error.errors);
    if (error instanceof HTTPException && error.status === 400) {
      return problem(c, "MALFORMED_JSON", "The request body is not valid JSON.");
    }
    // The log has the stack; the caller only gets the request id.
    console.error(JSON.stringify({ requestId: c.var.requestId, error: String(error), stack: (error as Error)?.stack }));
    return problem(c, "INTERNAL", "Something went wrong on our side; quote the request id when reporting it.");
  });

  return app;
}
