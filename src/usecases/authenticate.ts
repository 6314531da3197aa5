import { AppError } from "../domain/errors";
import type { Actor } from "../domain/permissions";
import type { Deps } from "./ports";

const TOKEN_SHAPE = /^upd_[0-9a-z]{32}$/;

/** Resolves a bearer token to the member acting with it; UNAUTHENTICATED when missing, malformed, unknown or revoked. */
export async function authenticate(deps: Deps, token: string | null): Promise<Actor> {
  if (token === null || !TOKEN_SHAPE.test(token)) {
    throw new AppError("UNAUTHENTICATED", "A valid bearer token is required.");
  }
  const actor = await deps.store.actorForToken(await deps.hasher.sha256Hex(token));
  if (actor === null) throw new AppError("UNAUTHENTICATED", "A valid bearer token is required.");
  return actor;
}
