// The console's route table (docs/console.md, "Access"): every console route is public (sign-in,
// assets), needs only a session (sign-out), or performs an admin API operation and requires that
// operation's permission from ROUTE_PERMISSIONS, so the console can never allow what the API
// refuses. Default deny: a console route missing here is refused. The use cases then check the
// permission again on the resource's own mini program, as for the API.
import { routePath } from "hono/route";
import { AppError } from "../../domain/errors";
import { mayHold } from "../../domain/permissions";
import { ROUTE_PERMISSIONS } from "../access";
import type { ConsoleEnv } from "./session";

export type ConsoleAccess = "public" | "session" | { api: string };

const api = (operation: string): ConsoleAccess => ({ api: operation });

export const CONSOLE_ROUTES: Readonly<Record<string, ConsoleAccess>> = {
  "GET /console/assets/console.css": "public",
  "GET /console/assets/console.js": "public",
  "GET /console/sign-in": "public",
  "POST /console/sign-in": "public",
  "POST /console/sign-out": "session",
  "GET /console": api("GET /v1/admin/releases"),
  "GET /console/releases/:releaseId": api("GET /v1/admin/releases/{releaseId}"),
  "GET /console/releases/:releaseId/estimate": api("POST /v1/admin/releases/{releaseId}/estimate"),
  "POST /console/releases/:releaseId/rollout": api("PUT /v1/admin/releases/{releaseId}/rollout"),
  "POST /console/releases/:releaseId/ramp": api("PUT /v1/admin/releases/{releaseId}/rollout"),
  "POST /console/releases/:releaseId/rollback": api("POST /v1/admin/releases"),
  "POST /console/releases/:releaseId/transition": api("POST /v1/admin/releases/{releaseId}/transitions"),
  "GET /console/releases/:releaseId/qr-codes": api("GET /v1/admin/releases/{releaseId}/qr-codes"),
  "GET /console/releases/:releaseId/qr-codes/:codeId/image.svg": api(
    "GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}/svg",
  ),
  "POST /console/releases/:releaseId/qr-codes": api("POST /v1/admin/releases/{releaseId}/qr-codes"),
  "GET /console/reviews": api("GET /v1/admin/releases"),
  "GET /console/explain": api("POST /v1/admin/explain"),
  "POST /console/explain": api("POST /v1/admin/explain"),
  "GET /console/allowlists": api("GET /v1/admin/allowlists"),
  "POST /console/allowlists": api("POST /v1/admin/allowlists"),
  "POST /console/allowlists/upload": api("PUT /v1/admin/allowlists/{allowlistId}/entries"),
};

/** The table entry of the route a request matched; undefined when no console route matched (404). */
export function consoleAccessOf(c: Parameters<typeof routePath>[0], method: string): ConsoleAccess | null | undefined {
  const path = routePath(c, -1);
  if (path === routePath(c)) return undefined;
  return CONSOLE_ROUTES[`${method === "HEAD" ? "GET" : method} ${path}`] ?? null;
}

/**
 * After sign-in: refuses (403) a route missing from the table, or one whose API operation needs a
 * permission the actor cannot hold.
 */
export function assertConsoleAccess(c: { var: ConsoleEnv["Variables"] }, access: ConsoleAccess | null): void {
  if (access === "public" || access === "session") return;
  const needed = access === null ? undefined : ROUTE_PERMISSIONS[access.api];
  const permissions = needed === undefined ? [] : typeof needed === "string" ? [needed] : needed;
  if (!permissions.some((p) => mayHold(c.var.actor, p))) {
    throw new AppError("FORBIDDEN", "Your role or token does not allow this action.");
  }
}
