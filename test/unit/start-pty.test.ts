// `npm start` as a newcomer meets it: in a terminal (a pseudo-terminal through util-linux `script`),
// on a fresh state, with nothing typed. Then the README's two tours, pasted twice, against that
// server, `npm run reset` refusing while it runs, Ctrl-C, and reset proceeding once it is stopped.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  exited,
  freePort,
  Output,
  ROOT,
  removeScratch,
  run,
  scratchDir,
  serverEnv,
  signedCheck,
} from "./start-support";

/** The ```sh blocks of the README's tours (from "## Five-minute tour" to the next "## " section). */
function tourScript(readme: string, { token, base, tmp }: { token: string; base: string; tmp: string }) {
  const start = readme.indexOf("## Five-minute tour");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
  const script = blocks.join("\n");
  if (!script.includes("upd_paste_the_printed_token_here") || !script.includes("http://127.0.0.1:8787")) {
    throw new Error("the tour no longer starts with the TOKEN and U exports this test fills in");
  }
  // The tours write under /tmp; each run of this test gets its own directory instead.
  return script
    .replaceAll("upd_paste_the_printed_token_here", token)
    .replaceAll("http://127.0.0.1:8787", base)
    .replaceAll("/tmp/", `${tmp}/`);
}

const stateDir = scratchDir("pty-state");
let port = 0;
let base = "";
let child: ChildProcess | undefined;
let out: Output;
const env = () => serverEnv({ PORT: String(port), UPDRAFT_STATE_DIR: stateDir });

async function stopServer() {
  if (child === undefined || child.exitCode !== null) return true;
  child.stdin?.write("\x03"); // Ctrl-C, through the terminal: SIGINT to start.mjs, wrangler and workerd
  if (await exited(child, 20_000)) return true;
  // Fallbacks: script's process group, then whatever start.mjs the lock names.
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {}
  const lock = join(stateDir, "server.json");
  if (existsSync(lock)) {
    try {
      process.kill(JSON.parse(readFileSync(lock, "utf8")).pid, "SIGTERM");
    } catch {}
  }
  return false;
}

function startServer() {
  // script -q (no banner) -e (its exit code is the command's) -f (flush) -c <command> /dev/null (no typescript file).
  // script runs the command through $SHELL -c; `exec` makes start.mjs the process on the terminal
  // whatever that shell is. Without it, dash (CI's /bin/sh) stays as the parent and dies of the
  // Ctrl-C itself, so script reports 130 although start.mjs stopped cleanly with 0.
  child = spawn("script", ["-qefc", `exec "${process.execPath}" scripts/start.mjs`, "/dev/null"], {
    cwd: ROOT,
    env: env(),
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  out = new Output(child);
}

/** Waits for the ready banner and runs the curl check it printed: a signed update to demo-pay 1.1.0. */
async function expectReadyWithWorkingCurl({ migrations = true } = {}) {
  const ready = await out.waitFor(/Updraft is running on (\S+)/, 120_000, child);
  expect(ready[1]).toBe(base);
  const text = out.plain;
  if (migrations) {
    // wrangler met a terminal and still did not wait: it logged its question and went on.
    const migrations = readdirSync("drizzle").filter((f) => f.endsWith(".sql")).length;
    expect(text).toMatch(new RegExp(`About to apply ${migrations} migration\\(s\\)`));
    expect(text).toMatch(/Using fallback value in non-interactive context: yes/);
  }
  // The secrets are not where `wrangler types` looks, so wrangler has nothing to complain about.
  expect(text).not.toMatch(/types might be out of date/);
  expect(text).toMatch(/Admin token \(demo workspace\): upd_\w+/);
  const curl = text.match(/^curl -sS -X POST (\S+) -H 'content-type: application\/json' -d '(.+)'$/m);
  expect(curl, text.slice(-3000)).not.toBeNull();
  const { valid, result } = await signedCheck(curl?.[1] ?? "", curl?.[2] ?? "");
  expect(valid).toBe(true);
  expect(result).toMatchObject({ id: "demo-pay", action: "update", version: "1.1.0" });
}

describe("npm start in a terminal", () => {
  beforeAll(async () => {
    const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
    expect(hasScript, "this test needs util-linux `script` (Debian: apt-get install bsdutils)").toBe(true);
    port = await freePort(8790, 8794);
    base = `http://127.0.0.1:${port}`;
    startServer();
  }, 10_000);

  afterAll(async () => {
    await stopServer();
    removeScratch();
  }, 30_000);

  it("applies the migrations without asking, seeds the demo and prints a curl check that answers a signed update", async () => {
    await expectReadyWithWorkingCurl();

    // Its whole state is in the scratch directory (the developer's .wrangler/state is untouched).
    expect(readdirSync(stateDir).sort()).toEqual([
      "demo.json",
      "publisher-key.pem",
      "root-key.pem",
      "secrets.env",
      "server.json",
      "v3",
    ]);
  }, 130_000);

  it("npm run reset refuses while it runs, and the server keeps working", async () => {
    const reset = await run(process.execPath, ["scripts/reset.mjs"], { env: env() });
    expect(reset.code).toBe(1);
    expect(reset.stderr).toMatch(/refused — an Updraft server \(pid \d+, http:\/\/127\.0\.0\.1:\d+\)/);
    const { token } = JSON.parse(readFileSync(join(stateDir, "demo.json"), "utf8"));
    const apps = await fetch(`${base}/v1/admin/apps`, { headers: { authorization: `Bearer ${token}` } });
    expect(apps.status).toBe(200);
  }, 20_000);

  it("a second npm start on the same state refuses instead of sharing it", async () => {
    const second = await run(process.execPath, ["scripts/start.mjs"], { env: env() });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/an Updraft server already runs on this local state/);
  }, 20_000);

  it("the README's five-minute and canary tours run as written, twice, with no error answer", async () => {
    const { token } = JSON.parse(readFileSync(join(stateDir, "demo.json"), "utf8"));
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const tmp = scratchDir("tour");
    const script = tourScript(readme, { token, base, tmp });
    const runs = [];
    for (let i = 0; i < 2; i++) {
      // -e: any failing command (curl --fail-with-body on an error answer, json.mjs on a problem) ends the run.
      const tour = await run("bash", ["-e", "-o", "pipefail", "-c", script], { timeoutMs: 90_000 });
      expect(tour.stderr, `run ${i + 1}:\n${tour.stdout}`).not.toMatch(/curl: \(\d+\)|json\.mjs:/);
      expect(tour.code, `run ${i + 1}:\n${tour.stdout}\n${tour.stderr}`).toBe(0);
      expect(tour.stdout).not.toMatch(/"status":\s*[45]\d\d/);
      expect(tour.stdout).toMatch(/^version 1\.2\.0: ver_\w+$/m);
      expect(tour.stdout).toMatch(/^release rel_\w+: full$/m);
      expect(tour.stdout).toMatch(/^sha256 matches the manifest: [0-9a-f]{64}$/m);
      expect(tour.stdout).toMatch(/^release rel_\w+: canary$/m);
      // alice is on the testers list: the canary reaches her.
      expect(tour.stdout).toMatch(/"action":"update","version":"1\.3\.0"/);
      runs.push(tour.stdout);
    }
    // The second run found what the first made: the same version and release ids.
    const ids = (s: string) =>
      [/^version 1\.2\.0: (\S+)$/m, /^release: (\S+)$/m, /^release (\S+): canary$/m].map((re) => s.match(re)?.[1]);
    expect(ids(runs[0] ?? "").every((id) => id !== undefined)).toBe(true);
    expect(ids(runs[1] ?? "")).toEqual(ids(runs[0] ?? ""));
  }, 200_000);

  it("stops on Ctrl-C, and then npm run reset wipes the state but keeps the secrets", async () => {
    expect(await stopServer()).toBe(true);
    expect(child?.exitCode).toBe(0);
    expect(existsSync(join(stateDir, "server.json"))).toBe(false);
    await expect(fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    const reset = await run(process.execPath, ["scripts/reset.mjs"], { env: env() });
    expect(reset.code, reset.stderr).toBe(0);
    // The keys stay with the secrets: the next demo registers the same publisher key again.
    expect(readdirSync(stateDir).sort()).toEqual(["publisher-key.pem", "root-key.pem", "secrets.env"]);
  }, 40_000);

  it("starts again after the reset, migrations and demo anew, still without asking", async () => {
    startServer();
    await expectReadyWithWorkingCurl();
    expect(await stopServer()).toBe(true);
  }, 150_000);

  it("rebuilds the delivery data of a state that has none (written before delivery parts existed)", async () => {
    // Such a state has the database but no DeliveryIndex objects: remove theirs.
    const objects = join(stateDir, "v3", "do");
    const removed = readdirSync(objects).filter((d) => d.includes("DeliveryIndex"));
    expect(removed.length).toBeGreaterThan(0);
    for (const d of removed) rmSync(join(objects, d), { recursive: true, force: true });
    startServer();
    await expectReadyWithWorkingCurl({ migrations: false });
    expect(await stopServer()).toBe(true);
  }, 150_000);
});
