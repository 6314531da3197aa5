// The SRE console under /console (docs/console.md): server-rendered pages over the same use cases as
// the admin API, behind a session cookie, with a strict Content-Security-Policy (no inline script or
// style) and a CSRF token in every form.
import { Hono } from "hono";
import { AppError } from "../../domain/errors";
import { authenticate } from "../../usecases/authenticate";
import { consoleOverview } from "../../usecases/console-overview";
import { ctxOf } from "../auth";
import { clientOf } from "../operator";
import { OverviewPage, SignInPage } from "./pages";
import { type ConsoleEnv, checkCsrf, consoleAuth, csrfToken, endSession, startSession } from "./session";
import { CONSOLE_CSS } from "./style";

/** Every console response's policy: only this origin's scripts, styles and forms; never framed. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const consoleRouter = new Hono<ConsoleEnv>();

consoleRouter.use("*", async (c, next) => {
  await next();
  c.header("content-security-policy", CONSOLE_CSP);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "same-origin");
  if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
});

consoleRouter.get("/assets/console.css", (c) =>
  c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }),
);

consoleRouter.get("/sign-in", (c) =>
  c.html(<SignInPage notice={c.req.query("expired") ? "Your session ended: sign in again." : undefined} />),
);

consoleRouter.post("/sign-in", async (c) => {
  const form = await c.req.parseBody();
  const token = typeof form.token === "string" ? form.token.trim() : "";
  try {
    const actor = await authenticate(c.var.deps, token, clientOf(c.req.header.bind(c.req)));
    startSession(c, token, actor, c.var.deps.clock.now());
    return c.redirect("/console", 303);
  } catch (error) {
    if (error instanceof AppError && (error.code === "UNAUTHENTICATED" || error.code === "RATE_LIMITED")) {
      const message =
        error.code === "RATE_LIMITED"
          ? "Too many failed attempts from this address: wait a few minutes."
          : "That token is not valid (unknown, revoked or expired).";
      return c.html(<SignInPage error={message} />, error.code === "RATE_LIMITED" ? 429 : 401);
    }
    throw error;
  }
});

consoleRouter.use("/*", async (c, next) => {
  const path = new URL(c.req.url).pathname;
  if (path === "/console/sign-in" || path.startsWith("/console/assets/")) return next();
  return consoleAuth(c, next);
});

consoleRouter.post("/sign-out", async (c) => {
  await checkCsrf(c);
  endSession(c);
  return c.redirect("/console/sign-in", 303);
});

consoleRouter.get("/", async (c) => {
  const targets = await consoleOverview(c.var.deps, ctxOf(c));
  return c.html(<OverviewPage targets={targets} csrf={csrfToken(c)} />);
});
