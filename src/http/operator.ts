import { createMiddleware } from "hono/factory";
import { AppError } from "../domain/errors";
import { clientKey } from "../domain/tokens";
import { throttled } from "../usecases/authenticate";
import type { Deps } from "../usecases/ports";
import type { HttpEnv } from "./types";

/** Constant-time comparison of two strings' UTF-8 bytes. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The client address failed attempts are counted under (Cloudflare sets CF-Connecting-IP). */
export function clientOf(header: (name: string) => string | undefined): string {
  return clientKey(header("cf-connecting-ip"));
}

/**
 * Refuses (UNAUTHENTICATED) unless `given` is the operator secret (BOOTSTRAP_SECRET; unset: the
 * operator routes are disabled). Failures count toward the client address's limit.
 */
async function requireOperator(deps: Deps, secret: string | undefined, given: string, client: string) {
  const now = deps.clock.now();
  await throttled(deps, client, now);
  if (!secret || !sameSecret(secret, given)) {
    await deps.throttle.fail(client, now);
    throw new AppError("UNAUTHENTICATED", "Operator routes are disabled or the operator secret is wrong.");
  }
}

/** The operator routes' gate: before the body is read, so a refused caller learns nothing else. */
export const operatorGate = createMiddleware<HttpEnv>(async (c, next) => {
  const given = c.req.header("updraft-bootstrap-secret") ?? "";
  await requireOperator(c.var.deps, c.env.BOOTSTRAP_SECRET, given, clientOf(c.req.header.bind(c.req)));
  await next();
});
