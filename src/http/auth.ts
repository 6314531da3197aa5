import { createMiddleware } from "hono/factory";
import { authenticate } from "../usecases/authenticate";
import type { Context as UseCaseContext } from "../usecases/ports";
import { clientOf } from "./operator";
import type { HttpEnv } from "./types";

/** Resolves `Authorization: Bearer upd_…` to the acting member; every admin route sits behind it. */
export const requireToken = createMiddleware<HttpEnv>(async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  c.set("actor", await authenticate(c.var.deps, match?.[1] ?? null, clientOf(c.req.header.bind(c.req))));
  await next();
});

/** The use-case context of the current request. */
export function ctxOf(c: { var: HttpEnv["Variables"] }): UseCaseContext {
  return { actor: c.var.actor, requestId: c.var.requestId };
}
