// `npm start` as a newcomer meets it: in a terminal (a pseudo-terminal through util-linux `script`),
// on a fresh state, with nothing typed. Then the README's two tours (the CLI) and those of
// docs/api-tour.md (curl), each pasted twice, against that server, `npm run reset` refusing while it
// runs, Ctrl-C, and reset proceeding once it is stopped.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
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

/** The text of the ```sh blocks of some Markdown. */
function shBlocks(markdown: string) {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "").join("\n");
}

/** The README's tours: the ```sh blocks from "## Five-minute tour" to the next "## " section. */
function readmeTours(readme: string) {
  const start = readme.indexOf("## Five-minute tour");
  if (start === -1) throw new Error('the README has no "## Five-minute tour" section');
  const end = readme.indexOf("\n## ", start + 1);
  return shBlocks(readme.slice(start, end === -1 ? undefined : end));
}

/**
 * A tour made runnable here: the token, the server and the demo publisher key of this test's
 * scratch state instead of the placeholders a reader pastes over or the default state's key file.
 */
function tourScript(
  script: string,
  { token, base, tmp, publisherKey }: { token: string; base: string; tmp: string; publisherKey: string },
) {
  for (const placeholder of [
    "upd_paste_the_printed_token_here",
    "http://127.0.0.1:8787",
    ".updraft/publisher-key.pem",
  ]) {
    if (!script.includes(placeholder))
      throw new Error(`the tour no longer uses ${placeholder}, which this test fills in`);
  }
  // The tours write under /tmp; each run of this test gets its own directory instead (replaced
  // first: the paths put in after it may be under /tmp themselves).
  return script
    .replaceAll("/tmp/", `${tmp}/`)
    .replaceAll("upd_paste_the_printed_token_here", token)
    .replaceAll("http://127.0.0.1:8787", base)
    .replaceAll(".updraft/publisher-key.pem", publisherKey);
}

/** The environment of a tour: the CLI's config in a scratch file, no credentials from this process. */
function tourEnv(config: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, UPDRAFT_CONFIG: config };
  for (const name of ["UPDRAFT_SERVER", "UPDRAFT_TOKEN", "UPDRAFT_KEY", "XDG_CONFIG_HOME"]) delete env[name];
  return env;
}

interface CheckAnswer {
  deviceId: string;
  results: { id: string; action: string; version?: string; releaseId?: string }[];
}

/** The update-check answers a tour printed (one JSON line each), in order. */
function checkAnswers(stdout: string): CheckAnswer[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith('{"issuedAt":'))
    .map((line) => JSON.parse(line) as CheckAnswer);
}

/** The tables `updraft release show` printed, by release id: each row's label and value. */
function shownReleases(stdout: string) {
  const shown = new Map<string, Record<string, string>>();
  for (const block of stdout.split(/^(?=release {2,}rel_)/m).slice(1)) {
    const rows: Record<string, string> = {};
    for (const line of block.split("\n")) {
      const row = line.match(/^(\S+(?: \S+)*) {2,}(.*)$/);
      if (row === null) break;
      rows[row[1] ?? ""] = row[2] ?? "";
    }
    const id = rows.release?.match(/^(rel_\w+) \(sequence \d+\)$/)?.[1];
    if (id !== undefined) shown.set(id, rows);
  }
  return shown;
}

/** The first capture of `re` in `text`; fails the test when it does not match. */
function captured(text: string, re: RegExp, run: number) {
  const match = text.match(re);
  expect(match?.[1], `run ${run}: no ${re} in:\n${text}`).toBeDefined();
  return match?.[1] ?? "";
}

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

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
  // The ready block is several writes: the terminal may pass them on in separate reads, so its last
  // line (the curl check, or what replaces it) is waited for too before the text is looked at.
  await out.waitFor(/^(curl -sS -X POST .* -d '\{.*\}'|The demo's update check .*)$/m, 30_000, child);
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
    const { token, publisherKeyId } = JSON.parse(readFileSync(join(stateDir, "demo.json"), "utf8"));
    expect(publisherKeyId).toMatch(/^[0-9a-f]{16}$/);
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const tmp = scratchDir("tour");
    // The CLI keeps its login here, never in the home directory of whoever runs the tests.
    const config = join(tmp, "updraft-config.json");
    const publisherKey = join(stateDir, "publisher-key.pem");
    const script = tourScript(readmeTours(readme), { token, base, tmp, publisherKey });
    const ids: string[][] = [];
    for (const i of [1, 2]) {
      // -e: any failing command (a CLI error, curl --fail-with-body on an error answer, json.mjs on a
      // problem) ends the run.
      const tour = await run("bash", ["-e", "-o", "pipefail", "-c", script], {
        env: tourEnv(config),
        timeoutMs: 90_000,
      });
      const out = tour.stdout;
      expect(tour.stderr, `run ${i}:\n${out}`).not.toMatch(/curl: \(\d+\)|json\.mjs:|^error:/m);
      expect(tour.code, `run ${i}:\n${out}\n${tour.stderr}`).toBe(0);
      expect(out).not.toMatch(/"status":\s*[45]\d\d/);

      // 0. Logged in, with the token stored in the scratch config file (owner-only).
      expect(out).toMatch(new RegExp(`^Logged in to ${reEscape(base)}: workspace "Demo" \\(ws_\\w+\\)\\.$`, "m"));
      expect(out).toContain(`Token stored in ${config}.`);
      expect(JSON.parse(readFileSync(config, "utf8"))).toEqual({ server: base, token });
      expect(statSync(config).mode & 0o777).toBe(0o600);

      // 1. and 5. The device gets nothing on the first run; the second run finds the tour's release live.
      const checks = checkAnswers(out);
      expect(checks.map((c) => c.deviceId)).toEqual(["device-1", "device-1", "device-a"]);
      const [before, after, alice] = checks.map((c) => c.results[0]);
      if (i === 1) expect(before).toEqual({ id: "demo-pay", action: "none" });
      else
        expect(before).toMatchObject({
          id: "demo-pay",
          action: "update",
          version: expect.stringMatching(/^1\.[23]\.0$/),
        });

      // 2. Published with the demo publisher key, then (second run) an idempotent replay.
      const published = (version: string) =>
        i === 1
          ? new RegExp(`^Published demo-pay ${reEscape(version)} \\((ver_\\w+)\\)\\.$`, "m")
          : new RegExp(
              `^Already published: demo-pay ${reEscape(version)} \\((ver_\\w+)\\) has exactly these bytes\\.$`,
              "m",
            );
      const ver = captured(out, published("1.2.0"), i);
      expect(out.match(new RegExp(`^signed with +publisher key ${publisherKeyId}$`, "gm"))).toHaveLength(2);

      // 3. and 4. The release, moved to full on the first run and found full on the second.
      const rel = captured(out, /^release: (rel_\w+)$/m, i);
      const moves = (id: string) =>
        [...out.matchAll(new RegExp(`^Release ${id} \\(.+\\) is now (\\w+)\\.$`, "gm"))].map((m) => m[1]);
      expect(moves(rel)).toEqual(i === 1 ? ["in_review", "approved", "full"] : []);
      const shown = shownReleases(out);
      expect(shown.get(rel)).toMatchObject({ version: `1.2.0 (${ver})`, target: "demo-wallet / prod", status: "full" });
      // On the first run the canary does not exist yet at step 5: the device gets the new full release.
      if (i === 1) expect(after).toMatchObject({ id: "demo-pay", action: "update", version: "1.2.0", releaseId: rel });
      else expect(after).toMatchObject({ id: "demo-pay", action: "update" });

      // 6. The package downloaded is the one the manifest names.
      const sha = captured(out, /^sha256 matches the manifest: ([0-9a-f]{64})$/m, i);
      expect(out).toMatch(new RegExp(`^${sha}  \\S+/downloaded\\.zip$`, "m"));

      // The canary tour: 1.3.0 published, its release in canary for the testers plus a percentage.
      const ver13 = captured(out, published("1.3.0"), i);
      const canary = captured(out, /^canary release: (rel_\w+)$/m, i);
      expect(moves(canary)).toEqual(i === 1 ? ["in_review", "approved", "canary"] : []);
      expect(shown.get(canary)).toMatchObject({
        version: `1.3.0 (${ver13})`,
        status: "canary",
        rollout: i === 1 ? "5%" : "20%",
        targeting: expect.stringMatching(/"allowlists":\[\{"kind":"user","listId":"al_\w+"\}\]/),
      });
      // alice is on the testers list: the canary reaches her.
      expect(alice).toMatchObject({ id: "demo-pay", action: "update", version: "1.3.0", releaseId: canary });
      // carol: a decision and the trace of both live releases.
      expect(out).toMatch(/^demo-pay: (update 1\.3\.0 via rel_\w+ \(\w+\)|none): [A-Z_]+$/m);
      expect(out).toMatch(new RegExp(`^  ${canary}  1\\.3\\.0  canary: [A-Z_]+`, "m"));
      expect(out).toMatch(new RegExp(`^  ${rel}  1\\.2\\.0  full: [A-Z_]+`, "m"));
      expect(out).toContain(`Release ${canary} (demo-pay 1.3.0 on demo-wallet/prod, canary): rollout 20%.`);
      ids.push([ver, rel, ver13, canary]);
    }
    // The second run found what the first made: the same version and release ids.
    expect(ids[1]).toEqual(ids[0]);
  }, 200_000);

  it("docs/api-tour.md's curl tours, signing with OpenSSL, run as written, twice, with no error answer", async () => {
    const hasOpenssl = spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;
    expect(hasOpenssl, "this test needs the openssl command (Debian: apt-get install openssl)").toBe(true);
    const { token, publisherKeyId } = JSON.parse(readFileSync(join(stateDir, "demo.json"), "utf8"));
    // The demo workspace refuses unsigned uploads: a version stored below had its signature verified.
    const workspace = await fetch(`${base}/v1/admin/workspace`, { headers: { authorization: `Bearer ${token}` } });
    expect(await workspace.json()).toMatchObject({ requireSignedUploads: true });
    const doc = readFileSync(join(ROOT, "docs", "api-tour.md"), "utf8");
    const tmp = scratchDir("api-tour");
    const publisherKey = join(stateDir, "publisher-key.pem");
    // The README's tours above made demo-pay 1.2.0 and 1.3.0 with the same bytes, so here their upload
    // would only be a replay (which verifies no signature) and every release step would find its work
    // done. On demo-coupons (seeded with 1.0.0 and 1.1.0 like demo-pay, never released) the curl tour
    // does everything itself: its signed uploads are verified, its releases created and moved.
    const script = tourScript(shBlocks(doc), { token, base, tmp, publisherKey }).replaceAll("demo-pay", "demo-coupons");
    const ids: string[][] = [];
    for (const i of [1, 2]) {
      const tour = await run("bash", ["-e", "-o", "pipefail", "-c", script], {
        env: tourEnv(join(tmp, "unused-config.json")),
        timeoutMs: 60_000,
      });
      const out = tour.stdout;
      expect(tour.stderr, `run ${i}:\n${out}`).not.toMatch(/curl: \(\d+\)|json\.mjs:/);
      expect(tour.code, `run ${i}:\n${out}\n${tour.stderr}`).toBe(0);
      expect(out).not.toMatch(/"status":\s*[45]\d\d/);

      const checks = checkAnswers(out);
      expect(checks.map((c) => c.deviceId)).toEqual(["device-1", "device-1", "device-a"]);
      const [before, after, alice] = checks.map((c) => c.results[0]);
      if (i === 1) expect(before).toEqual({ id: "demo-coupons", action: "none" });
      else expect(before).toMatchObject({ id: "demo-coupons", action: "update" });

      const ver = captured(
        out,
        new RegExp(`^version 1\\.2\\.0: (ver_\\w+), signed with publisher key ${publisherKeyId}$`, "m"),
        i,
      );
      const rel = captured(out, /^release: (rel_\w+)$/m, i);
      expect(out).toMatch(new RegExp(`^release ${rel}: full$`, "m"));
      if (i === 1)
        expect(after).toMatchObject({ id: "demo-coupons", action: "update", version: "1.2.0", releaseId: rel });
      else expect(after).toMatchObject({ id: "demo-coupons", action: "update" });
      captured(out, /^sha256 matches the manifest: ([0-9a-f]{64})$/m, i);

      const ver13 = captured(out, /^version 1\.3\.0: (ver_\w+)$/m, i);
      const canary = captured(out, /^release (rel_\w+): canary$/m, i);
      expect(alice).toMatchObject({ id: "demo-coupons", action: "update", version: "1.3.0", releaseId: canary });
      const explained = JSON.parse(captured(out, /^(\{"snapshotVersion".*)$/m, i));
      expect(explained.results[0].releases).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ releaseId: canary, status: "canary" }),
          expect.objectContaining({ releaseId: rel, status: "full" }),
        ]),
      );
      // The last answer: the rollout widened to 20 %.
      const widened = JSON.parse(out.trimEnd().split("\n").at(-1) ?? "");
      expect(widened).toMatchObject({ id: canary, status: "canary", targeting: { percentage: { basisPoints: 2000 } } });
      ids.push([ver, rel, ver13, canary]);
    }
    expect(ids[1]).toEqual(ids[0]);
    // Both versions are stored with the demo publisher's signature.
    for (const version of ["1.2.0", "1.3.0"]) {
      const res = await fetch(`${base}/v1/admin/mini-programs/demo-coupons/versions/${version}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(await res.json()).toMatchObject({
        publisherKeyId,
        publisherSignature: expect.stringMatching(/^[\w-]{86}$/),
      });
    }
  }, 150_000);

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
