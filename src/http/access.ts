import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import { AppError } from "../domain/errors";
import { mayHold, type Permission } from "../domain/permissions";
import type { HttpEnv } from "./types";

/**
 * What each admin route needs: one permission, or several when the request decides (a transition
 * is a review or a release change). The gate below lets a request through only when its route is
 * listed here and the actor may hold one of the permissions somewhere; the use case then checks it
 * on the resource's own mini program and filters lists to what the actor may see. A route missing
 * from this table is refused for everyone (default deny). docs/access.md is this table in prose.
 */
export const ROUTE_PERMISSIONS: Readonly<Record<string, Permission | readonly Permission[]>> = {
  "GET /v1/admin/workspace": "workspace:read",
  "PATCH /v1/admin/workspace": "workspace:write",

  "GET /v1/admin/members": "workspace:read",
  "POST /v1/admin/members": "member:write",
  "GET /v1/admin/members/{memberId}": "workspace:read",
  "PATCH /v1/admin/members/{memberId}": "member:write",
  "DELETE /v1/admin/members/{memberId}": "member:write",
  "POST /v1/admin/members/{memberId}/invites": "member:write",

  "GET /v1/admin/tokens": "workspace:read",
  "POST /v1/admin/tokens": "token:self",
  "GET /v1/admin/tokens/{tokenId}": "workspace:read",
  // Any token may revoke itself; revoking another needs token:self (checked by the use case).
  "DELETE /v1/admin/tokens/{tokenId}": "workspace:read",
  "POST /v1/admin/tokens/{tokenId}/rotations": "token:self",

  "GET /v1/admin/apps": "workspace:read",
  "POST /v1/admin/apps": "app:write",
  "GET /v1/admin/apps/{appId}": "workspace:read",
  "DELETE /v1/admin/apps/{appId}": "app:write",
  "POST /v1/admin/apps/{appId}/environments": "app:write",
  "DELETE /v1/admin/apps/{appId}/environments/{env}": "app:write",
  "POST /v1/admin/apps/{appId}/environments/{env}/rebuild-delivery": "app:write",

  "GET /v1/admin/mini-programs": "workspace:read",
  "POST /v1/admin/mini-programs": "mini_program:create",
  "GET /v1/admin/mini-programs/{miniProgramId}": "mini_program:read",
  "PATCH /v1/admin/mini-programs/{miniProgramId}": "mini_program:write",
  "GET /v1/admin/mini-programs/{miniProgramId}/members": "mini_program:read",
  "PUT /v1/admin/mini-programs/{miniProgramId}/members/{memberId}": "mini_program:write",
  "DELETE /v1/admin/mini-programs/{miniProgramId}/members/{memberId}": "mini_program:write",
  "GET /v1/admin/mini-programs/{miniProgramId}/versions": "mini_program:read",
  "POST /v1/admin/mini-programs/{miniProgramId}/versions": "version:upload",
  "GET /v1/admin/mini-programs/{miniProgramId}/versions/{version}": "mini_program:read",
  "DELETE /v1/admin/mini-programs/{miniProgramId}/versions/{version}": "version:delete",
  "GET /v1/admin/mini-programs/{miniProgramId}/patches": "mini_program:read",
  "GET /v1/admin/mini-programs/{miniProgramId}/installed-versions": "mini_program:read",
  "POST /v1/admin/mini-programs/{miniProgramId}/patches/{patchId}/retry": "version:upload",
  "GET /v1/admin/mini-programs/{miniProgramId}/features": "mini_program:read",
  "PUT /v1/admin/mini-programs/{miniProgramId}/features/{featureId}": "mini_program:write",
  "DELETE /v1/admin/mini-programs/{miniProgramId}/features/{featureId}": "mini_program:write",
  "POST /v1/admin/mini-programs/{miniProgramId}/removal-requests": "mini_program:write",

  "GET /v1/admin/removal-requests": "workspace:read",
  "GET /v1/admin/removal-requests/{requestId}": "mini_program:read",
  "POST /v1/admin/removal-requests/{requestId}/decision": "workspace:write",
  "DELETE /v1/admin/removal-requests/{requestId}": "mini_program:write",

  "GET /v1/admin/publisher-keys": "workspace:read",
  "POST /v1/admin/publisher-keys": "workspace:write",
  "GET /v1/admin/publisher-keys/{keyId}": "workspace:read",
  "DELETE /v1/admin/publisher-keys/{keyId}": "workspace:write",

  "GET /v1/admin/features": "workspace:read",
  "POST /v1/admin/features": "workspace:write",
  "GET /v1/admin/features/{featureId}": "workspace:read",
  "DELETE /v1/admin/features/{featureId}": "workspace:write",

  "GET /v1/admin/releases": "workspace:read",
  "POST /v1/admin/releases": "release:create",
  "GET /v1/admin/releases/{releaseId}": "mini_program:read",
  "PATCH /v1/admin/releases/{releaseId}": "release:write",
  "DELETE /v1/admin/releases/{releaseId}": "release:write",
  "POST /v1/admin/releases/{releaseId}/transitions": ["release:write", "release:review"],
  "PUT /v1/admin/releases/{releaseId}/targeting": "release:write",
  "PUT /v1/admin/releases/{releaseId}/rollout": "release:write",
  "GET /v1/admin/releases/{releaseId}/features": "mini_program:read",
  "GET /v1/admin/releases/{releaseId}/stats": "mini_program:read",
  "POST /v1/admin/releases/{releaseId}/estimate": "mini_program:read",
  "GET /v1/admin/releases/{releaseId}/health": "mini_program:read",
  "PUT /v1/admin/releases/{releaseId}/health-policy": "release:write",
  "DELETE /v1/admin/releases/{releaseId}/health-policy": "release:write",
  "GET /v1/admin/releases/{releaseId}/qr-codes": "release:write",
  "POST /v1/admin/releases/{releaseId}/qr-codes": "release:write",
  "GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}": "release:write",
  "DELETE /v1/admin/releases/{releaseId}/qr-codes/{codeId}": "release:write",
  "GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}/svg": "release:write",
  "GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}/png": "release:write",

  "GET /v1/admin/allowlists": "workspace:read",
  "POST /v1/admin/allowlists": "allowlist:write",
  "GET /v1/admin/allowlists/{allowlistId}": "workspace:read",
  "DELETE /v1/admin/allowlists/{allowlistId}": "allowlist:write",
  "GET /v1/admin/allowlists/{allowlistId}/entries": "allowlist:read",
  "PUT /v1/admin/allowlists/{allowlistId}/entries": "allowlist:write",
  "POST /v1/admin/allowlists/{allowlistId}/entries": "allowlist:write",

  "GET /v1/admin/webhook": "workspace:read",
  "PUT /v1/admin/webhook": "workspace:write",
  "DELETE /v1/admin/webhook": "workspace:write",
  "GET /v1/admin/webhook/deliveries": "workspace:read",
  "POST /v1/admin/webhook/test": "workspace:write",

  "POST /v1/admin/explain": "workspace:read",
  "GET /v1/admin/audit-logs": "audit:read",
};

/** The table's key of a route: `METHOD /path/{param}` as the OpenAPI document writes it. */
export function routeKey(method: string, honoPath: string): string {
  return `${method.toUpperCase()} ${honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}")}`;
}

/** Refuses (403) a request whose route is not in ROUTE_PERMISSIONS or whose permission the actor cannot hold. */
export const routeGate = createMiddleware<HttpEnv>(async (c, next) => {
  const path = routePath(c, -1);
  // No handler matched: the router answers 404 or 405.
  if (path === routePath(c)) return next();
  const needed = ROUTE_PERMISSIONS[routeKey(c.req.method === "HEAD" ? "GET" : c.req.method, path)];
  const permissions = needed === undefined ? [] : typeof needed === "string" ? [needed] : needed;
  if (!permissions.some((p) => mayHold(c.var.actor, p))) {
    throw new AppError("FORBIDDEN", "Your role or token does not allow this action.");
  }
  await next();
});

/**
 * Refuses (400) a query parameter on an admin route that declares none: every admin route either
 * validates its query strictly (its schema refuses unknown keys) or takes none, so a typo such as
 * `?staus=` is never silently ignored. `takesQuery` holds the routes that declare a query schema
 * (filled from the OpenAPI registry once the routes are mounted).
 */
export const strictQuery = (takesQuery: ReadonlySet<string>) =>
  createMiddleware<HttpEnv>(async (c, next) => {
    const path = routePath(c, -1);
    const search = c.req.url.indexOf("?");
    if (path === routePath(c) || search === -1 || takesQuery.has(routeKey(c.req.method, path))) return next();
    if (new URL(c.req.url).searchParams.size === 0) return next();
    // Like the validators' unknown keys: the names are input, so they are not sent back.
    throw new AppError("VALIDATION_FAILED", "The request query is not valid.", [
      { pointer: "", message: "This route takes no query parameters." },
    ]);
  });
