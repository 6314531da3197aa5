// Drives main(argv, io) in-process: a scratch directory as cwd and config home, collected output,
// and a fake server (a route table) in place of fetch.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/main.ts";

export interface Recorded {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array;
  json: unknown;
}

export type Handler = (req: Recorded) => Response | Promise<Response>;

export const json = (value: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });

export const problem = (status: number, code: string, detail: string, extra: Record<string, unknown> = {}) =>
  new Response(
    JSON.stringify({
      type: `urn:updraft:problem:${code}`,
      title: code,
      status,
      detail,
      code,
      requestId: "req_1",
      ...extra,
    }),
    {
      status,
      headers: { "content-type": "application/problem+json" },
    },
  );

/** A fake server: `"METHOD /path"` → handler; anything else is a 404 ROUTE_NOT_FOUND. */
export function fakeServer(routes: Record<string, Handler>) {
  const requests: Recorded[] = [];
  const fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const method = init.method ?? "GET";
    const body =
      init.body === undefined || init.body === null
        ? new Uint8Array()
        : new Uint8Array(await new Response(init.body).arrayBuffer());
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      parsed = undefined;
    }
    const req: Recorded = { method, url, headers: new Headers(init.headers), body, json: parsed };
    requests.push(req);
    const handler = routes[`${method} ${url.pathname}`];
    return handler === undefined ? problem(404, "ROUTE_NOT_FOUND", "No such route.") : handler(req);
  };
  return { fetch: fetch as typeof globalThis.fetch, requests };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), "updraft-cli-"));
  readonly configFile = join(this.dir, "home", "updraft", "config.json");

  path(...parts: string[]) {
    return join(this.dir, ...parts);
  }

  async run(
    argv: string[],
    options: {
      fetch?: typeof globalThis.fetch;
      env?: Record<string, string>;
      stdin?: string;
      stdoutTTY?: boolean;
      stderrTTY?: boolean;
      now?: number;
    } = {},
  ): Promise<RunResult> {
    let stdout = "";
    let stderr = "";
    const code = await main(argv, {
      stdout: {
        write: (t: string) => {
          stdout += t;
        },
        isTTY: options.stdoutTTY ?? false,
      },
      stderr: {
        write: (t: string) => {
          stderr += t;
        },
        isTTY: options.stderrTTY ?? false,
      },
      env: { UPDRAFT_CONFIG: this.configFile, ...options.env },
      fetch: options.fetch ?? (async () => Promise.reject(new TypeError("fetch failed"))),
      cwd: this.dir,
      home: this.path("home"),
      now: () => options.now ?? Date.UTC(2026, 4, 1),
      stdinIsTTY: false,
      readStdin: async () => options.stdin ?? "",
      promptSecret: async () => {
        throw new Error("no terminal in tests");
      },
    });
    return { code, stdout, stderr };
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A release as the admin API answers it. */
export function releaseFixture(overrides: Record<string, unknown> = {}) {
  return {
    id: "rel_1",
    seq: 3,
    versionId: "ver_1",
    version: "1.3.0",
    appKey: "demo-wallet",
    appId: "app_1",
    env: "prod",
    environmentId: "env_1",
    miniProgramId: "mp_1",
    miniProgramKey: "demo-pay",
    status: "created",
    pausedFrom: null,
    wentFull: false,
    rollback: false,
    updateMode: "async",
    config: {},
    targeting: null,
    reviewReason: null,
    submittedBy: null,
    previewTestersOnly: false,
    createdBy: "mem_1",
    createdAt: Date.UTC(2026, 0, 1),
    updatedAt: Date.UTC(2026, 0, 1),
    rowVersion: 1,
    ...overrides,
  };
}
