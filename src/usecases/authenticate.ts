import { AppError } from "../domain/errors";
import type { Actor } from "../domain/permissions";
import { LAST_USE_RESOLUTION_MS, TOKEN_SECRET } from "../domain/tokens";
import type { Deps } from "./ports";

/**
 * Resolves a bearer token to the member acting with it. UNAUTHENTICATED when missing, malformed,
 * unknown, revoked, expired or its member removed; RATE_LIMITED while the client address has made
 * too many failed attempts (every attempt is refused then, even with a valid token). The token is
 * found by the hash of the presented secret: no secret is ever compared.
 */
export async function authenticate(deps: Deps, token: string | null, client: string): Promise<Actor> {
  const now = deps.clock.now();
  await throttled(deps, client, now);
  const actor =
    token !== null && TOKEN_SECRET.test(token)
      ? await deps.store.actorForToken(await deps.hasher.sha256Hex(token), now)
      : null;
  if (actor === null) {
    // A request without a token guesses nothing: only presented tokens count toward the limit.
    if (token !== null) await deps.throttle.fail(client, now);
    throw new AppError("UNAUTHENTICATED", "A valid bearer token is required.");
  }
  if (actor.lastUsedAt === null || actor.lastUsedAt <= now - LAST_USE_RESOLUTION_MS) {
    await deps.store.touchToken(actor.tokenId, now);
  }
  const { lastUsedAt: _, ...rest } = actor;
  return rest;
}

/** Throws RATE_LIMITED (with the seconds to wait) while the client address is blocked. */
export async function throttled(deps: Deps, client: string, now: number): Promise<void> {
  const wait = await deps.throttle.retryAfter(client, now);
  if (wait > 0) {
    throw new AppError(
      "RATE_LIMITED",
      "Too many failed authentication attempts from this address; wait and retry.",
      undefined,
      wait,
    );
  }
}
