// The console's session (docs/console.md): signing in exchanges an API token for an HttpOnly,
// SameSite=Strict cookie scoped to /console (Secure except on loopback), holding the token itself, so
// every request authenticates it afresh: a revoked or expired token stops working on the next request,
// and the cookie never outlives the token. Every form carries a CSRF token bound to the session.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { AppError } from "../../domain/errors";
import type { Actor } from "../../domain/permissions";
import { authenticate } from "../../usecases/authenticate";
import { clientOf } from "../operator";
import type { HttpEnv } from "../types";

export const SESSION_COOKIE = "updraft_console";
/** The longest a session lasts even with a token that never expires. */
export const MAX_SESSION_SECONDS = 12 * 60 * 60;

export type ConsoleEnv = HttpEnv & { Variables: HttpEnv["Variables"] & { session: string } };

/** Loopback hosts (`npm start`): the cookie may not be Secure there (plain http). */
function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
}

export function startSession(c: Context, token: string, actor: Actor, now: number): void {
  const untilToken =
    actor.tokenExpiresAt === null ? MAX_SESSION_SECONDS : Math.floor((actor.tokenExpiresAt - now) / 1000);
  setCookie(c, SESSION_COOKIE, token, {
    path: "/console",
    httpOnly: true,
    secure: !isLoopback(c.req.url),
    sameSite: "Strict",
    maxAge: Math.max(1, Math.min(MAX_SESSION_SECONDS, untilToken)),
  });
}

export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/console", secure: !isLoopback(c.req.url) });
}

/**
 * Pages behind sign-in: the cookie's token is authenticated on every request (actor set as for the
 * admin API); without a valid one the browser is sent to the sign-in page.
 */
export const consoleAuth = createMiddleware<ConsoleEnv>(async (c, next) => {
  const token = getCookie(c, SESSION_COOKIE) ?? null;
  if (token === null) return c.redirect(signInPath(c, {}), 303);
  try {
    c.set("actor", await authenticate(c.var.deps, token, clientOf(c.req.header.bind(c.req))));
  } catch (error) {
    if (error instanceof AppError && error.code === "UNAUTHENTICATED") {
      endSession(c);
      return c.redirect(signInPath(c, { expired: "1" }), 303);
    }
    throw error;
  }
  c.set("session", token);
  await next();
});

/**
 * Where a console page sends a visitor without a session: the sign-in page, with the page asked
 * for (a GET beyond the overview, say a release linked from a chat) to return to after signing in.
 */
function signInPath(c: Context, query: Record<string, string>): string {
  const url = new URL(c.req.url);
  const asked = `${url.pathname}${url.search}`;
  const params = new URLSearchParams(query);
  if (c.req.method === "GET" && safeNext(asked) !== null) params.set("next", asked);
  const search = params.toString();
  return `/console/sign-in${search ? `?${search}` : ""}`;
}

/** A console page to go to after signing in, or null: only a path under /console/, never another origin. */
export function safeNext(path: string | undefined | null): string | null {
  if (typeof path !== "string" || path.length > 2000) return null;
  return /^\/console\/[A-Za-z0-9_\-./?=&%~]*$/.test(path) && !path.includes("//") ? path : null;
}

/** The CSRF token of a session: every console form carries it, every POST must. */
export function csrfToken(c: { var: ConsoleEnv["Variables"] }): string {
  return c.var.deps.consoleKeys.csrf(c.var.session);
}

function verifyCsrf(c: Context<ConsoleEnv>, given: string): void {
  if (!c.var.deps.consoleKeys.verify(c.var.session, given)) {
    throw new AppError("FORBIDDEN", "The form is stale or did not come from the console: reload the page and retry.");
  }
}

/** Refuses (403) a form POST whose CSRF token is not the session's; else its string fields. */
export async function checkCsrf(c: Context<ConsoleEnv>): Promise<Record<string, string>> {
  const form = await c.req.parseBody();
  verifyCsrf(c, typeof form._csrf === "string" ? form._csrf : "");
  return Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** The CSRF check of a request the console's script sends with a raw body: the token in a header. */
export const CSRF_HEADER = "x-updraft-csrf";
export function checkCsrfHeader(c: Context<ConsoleEnv>): void {
  verifyCsrf(c, c.req.header(CSRF_HEADER) ?? "");
}
