import type { Actor } from "../domain/permissions";
import type { Deps } from "../usecases/ports";

/** Hono environment shared by every router. Bindings stay opaque here: handlers only see ports. */
export interface HttpEnv {
  Bindings: { BOOTSTRAP_SECRET?: string; MAX_PACKAGE_BYTES?: string } & Record<string, unknown>;
  Variables: { requestId: string; deps: Deps; actor: Actor };
}
