import { env } from "cloudflare:workers";
import { type Bindings, buildDeps } from "../../src/deps";
import { createFetchHandler } from "../../src/http/app";
import { BASE } from "./workspace";

const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
const handler = createFetchHandler((e: Bindings) => buildDeps(e));

export type SendInit = RequestInit & { token?: string; json?: unknown };

/**
 * The Worker's own fetch handler over the real local bindings with some of them (or a setting)
 * replaced: a new env object, so the composition root builds a fresh set of ports for it.
 */
export function workerWith(overrides: () => Partial<Bindings>) {
  return (path: string, init: SendInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set("authorization", `Bearer ${init.token}`);
    if (init.json !== undefined) headers.set("content-type", "application/json");
    const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
    const bindings = { ...(env as unknown as Bindings), ...overrides() };
    return handler(new Request(`${BASE}${path}`, { ...init, headers, body }), bindings, ctx);
  };
}
