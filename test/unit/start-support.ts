// Helpers for the tests of `npm start`, the demo seed, reset and the README tours (scripts/*.mjs).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = join(import.meta.dirname, "..", "..");

/** A scripts/*.mjs module (plain JavaScript: typed here by what the tests use). */
// biome-ignore lint/suspicious/noExplicitAny: untyped .mjs modules
export async function script<T = any>(name: string): Promise<T> {
  return (await import(pathToFileURL(join(ROOT, "scripts", name)).href)) as T;
}

const scratch: string[] = [];
/** A new directory under the system's temporary directory, removed by removeScratch(). */
export function scratchDir(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), `updraft-${prefix}-`));
  scratch.push(dir);
  return dir;
}
/** Removes every scratchDir() of this test file (call in afterAll). */
export function removeScratch() {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Whether 127.0.0.1:port can be bound right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
      .once("error", () => resolve(false))
      .listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** A free port in [from, to] (each test file has its own range, so files running at once never collide). */
export async function freePort(from: number, to: number): Promise<number> {
  for (let port = from; port <= to; port++) if (await portFree(port)) return port;
  throw new Error(`no free port in ${from}–${to}`);
}

/**
 * The environment of the servers the tests start: no metrics, and not "CI" (CI=false wins over
 * every CI vendor variable in ci-info), so wrangler behaves as in a developer's terminal.
 */
export function serverEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "false", ...extra };
}

export const wrangler = () => join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export function runWrangler(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(process.execPath, [wrangler(), ...args], {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? serverEnv({}),
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    timeout: 120_000,
  });
}

/** Collects a child's output and waits for a pattern in it (bounded). */
export class Output {
  text = "";
  constructor(child: ChildProcess) {
    child.stdout?.on("data", (d: Buffer) => {
      this.text += d.toString("utf8");
    });
    child.stderr?.on("data", (d: Buffer) => {
      this.text += d.toString("utf8");
    });
  }
  /** The output without terminal colours and carriage returns. */
  get plain() {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences
    return this.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
  }
  async waitFor(pattern: RegExp, timeoutMs: number, child?: ChildProcess): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.plain.match(pattern);
      if (match) return match;
      if (child && child.exitCode !== null) {
        throw new Error(`exited (${child.exitCode}) before ${pattern}:\n${this.plain.slice(-4000)}`);
      }
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.plain.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Runs a command, resolving with its exit code and output (never rejects). */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const fromB64Url = (s: string) => Uint8Array.from(Buffer.from(s, "base64url"));

/**
 * Runs an update check and verifies its Ed25519 signature with the key the server publishes at
 * /v1/keys; returns the first result.
 */
export async function signedCheck(url: string, body: string) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`check → ${res.status} ${Buffer.from(bytes).toString()}`);
  const keys = (await (await fetch(new URL("/v1/keys", url))).json()) as {
    keys: { keyId: string; publicKey: string }[];
  };
  const key = keys.keys.find((k) => k.keyId === res.headers.get("updraft-key-id"));
  if (key === undefined) throw new Error("the check's Updraft-Key-Id is not among /v1/keys");
  const publicKey = await crypto.subtle.importKey("raw", fromB64Url(key.publicKey), { name: "Ed25519" }, false, [
    "verify",
  ]);
  const signature = fromB64Url(res.headers.get("updraft-signature") ?? "");
  const valid = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, bytes);
  const json = JSON.parse(Buffer.from(bytes).toString("utf8")) as {
    results: { id: string; action: string; version?: string; package?: { url: string; sha256: string } }[];
  };
  return { valid, result: json.results[0] };
}

/** A local server (wrangler dev on workerd) started as the demo-seed and end-to-end tests need it. */
export interface LocalServer {
  base: string;
  child: ChildProcess;
  // biome-ignore lint/suspicious/noExplicitAny: untyped .mjs modules
  paths: any;
  secrets: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Migrates and starts a server on a state directory of its own (UPDRAFT_STATE_DIR layout, its local
 * secrets and key set made by local.mjs) on a free port of [from, to]; resolves once it is ready.
 */
export async function startLocalServer(stateDir: string, [from, to]: [number, number]): Promise<LocalServer> {
  const local = await script("local.mjs");
  const paths = local.localPaths({ UPDRAFT_STATE_DIR: stateDir });
  const secrets = local.ensureLocalSecrets(paths).vars;
  const env = serverEnv({ CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true" });
  const persist = ["--persist-to", paths.persistDir];
  const migrate = runWrangler(["d1", "migrations", "apply", "updraft", "--local", ...persist], { env });
  if (migrate.status !== 0) throw new Error(`migrations failed: ${migrate.stderr}`);
  const port = await freePort(from, to);
  const child = spawn(
    process.execPath,
    [wrangler(), "dev", "--ip", "127.0.0.1", "--port", String(port), ...persist, "--env-file", paths.secretsFile],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Output(child).waitFor(/Ready on/, 90_000, child);
  return {
    base: `http://127.0.0.1:${port}`,
    child,
    paths,
    secrets,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGINT");
      if (!(await exited(child, 10_000))) child.kill("SIGKILL");
    },
  };
}
