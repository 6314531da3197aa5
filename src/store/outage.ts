import { AppError } from "../domain/errors";
import type { Store } from "../usecases/ports";

/** Errors that mean our own code is wrong, never that the database is away: still a 500 (INTERNAL). */
const PROGRAMMING_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

/**
 * The store with every failure of the database itself reported as `SERVICE_UNAVAILABLE` (503 with
 * `Retry-After`): D1 unreachable, overloaded, reset, or its file gone. Expected outcomes (`null`,
 * `"conflict"`) are values, not errors, so they pass through untouched, as do AppErrors and the
 * errors that only a bug in our code can raise. The original error is logged, never shown.
 */
export function reportOutages<T extends object = Store>(store: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(store)) {
    if (typeof method !== "function") {
      wrapped[name] = method;
      continue;
    }
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (error) {
        throw asOutage(error, name);
      }
    };
  }
  return wrapped as unknown as T;
}

function asOutage(error: unknown, operation: string): unknown {
  if (error instanceof AppError) return error;
  if (PROGRAMMING_ERRORS.some((kind) => error instanceof kind)) return error;
  // drizzle wraps the binding's error with the statement and its parameters (token hashes among
  // them): only the binding's own message is logged.
  const cause = (error as { cause?: unknown })?.cause ?? error;
  console.error(JSON.stringify({ outage: "d1", operation, error: String(cause) }));
  return new AppError("SERVICE_UNAVAILABLE", "The database is unavailable right now; retry in a few seconds.");
}
