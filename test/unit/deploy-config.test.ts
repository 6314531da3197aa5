// The deployable bundle builds: `wrangler deploy --dry-run` reads wrangler.toml (bindings, the
// Durable Object migration, vars), bundles src/index.ts exactly as a deploy would, and uploads
// nothing. It needs no Cloudflare account and no network: it runs with an empty home directory
// (no login), without any Cloudflare credentials, and without the banner's update check.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

describe("wrangler deploy --dry-run", () => {
  const scratch = mkdtempSync(path.join(tmpdir(), "updraft-deploy-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("builds the Worker bundle from wrangler.toml without an account or network", { timeout: 60_000 }, async () => {
    const outdir = path.join(scratch, "out");
    const home = path.join(scratch, "home");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, ".config"),
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_SEND_ERROR_REPORTS: "false",
      WRANGLER_HIDE_BANNER: "true",
      CI: "true",
    };
    for (const name of ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL"]) {
      delete env[name];
    }
    let result: { stdout: string; stderr: string; code: number };
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [WRANGLER, "deploy", "--dry-run", "--outdir", outdir],
        { cwd: ROOT, env, timeout: 55_000, maxBuffer: 16 * 1024 * 1024 },
      );
      result = { stdout, stderr, code: 0 };
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      result = { stdout: e.stdout ?? "", stderr: e.stderr ?? "", code: typeof e.code === "number" ? e.code : -1 };
    }
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain("--dry-run: exiting now.");

    // The bundle is there, and it is this Worker: its entry exports the fetch handler and the
    // Durable Object class that wrangler.toml's migration creates.
    const bundle = path.join(outdir, "index.js");
    expect(existsSync(bundle), `files written: ${readdirSync(outdir).join(", ")}`).toBe(true);
    const code = readFileSync(bundle, "utf8");
    expect(code.length).toBeGreaterThan(10_000);
    expect(code).toMatch(/export\s*\{[^}]*\bAdmissionCounter\b/);
    expect(code).toMatch(/export\s*\{[^}]*\bas default\b/);

    // Every binding the code uses is declared (names as src/deps.ts reads them).
    for (const binding of ["env.DB", "env.PACKAGES", "env.SNAPSHOTS", "env.ADMISSIONS (AdmissionCounter)"]) {
      expect(result.stdout).toContain(binding);
    }
  });
});
