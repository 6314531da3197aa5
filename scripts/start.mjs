// `npm start`: local D1/R2/KV/Durable Objects on workerd through wrangler dev, migrations applied,
// demo workspace seeded (or its seeding finished). Never waits for input.
//   PORT               port on 127.0.0.1 (default 8787)
//   UPDRAFT_STATE_DIR  keep this server's whole local state in that directory (see local.mjs)
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { relative } from "node:path";
import { DEMO_CHECK, seedDemo } from "./demo-seed.mjs";
import { ensureLocalSecrets, localPaths, lockHolder, releaseLock, wranglerBin, writeLock } from "./local.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const BASE = `http://127.0.0.1:${PORT}`;
const paths = localPaths();
const show = (p) => relative(process.cwd(), p) || ".";
const fail = (message) => {
  console.error(`\nnpm start: ${message}\n`);
  process.exit(1);
};
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) fail(`PORT must be a port number, not ${process.env.PORT}.`);

const holder = await lockHolder(paths);
if (holder !== null) {
  fail(
    `an Updraft server already runs on this local state (pid ${holder.pid}, ${holder.port ? `http://127.0.0.1:${holder.port}` : "port unknown"}). ` +
      `Stop it first, or use another state directory (UPDRAFT_STATE_DIR=<dir>). Lock: ${show(paths.lockFile)}`,
  );
}
const portFree = await new Promise((resolve) => {
  const probe = createServer()
    .once("error", () => resolve(false))
    .listen(PORT, "127.0.0.1", () => probe.close(() => resolve(true)));
});
if (!portFree) fail(`port ${PORT} is in use on 127.0.0.1. Stop what runs there or pick another: PORT=8788 npm start`);

// The lock tells `npm run reset` (and a second `npm start`) that this state is in use, from the
// migrations on: wiping the state under a running workerd breaks it (SQLITE_CANTOPEN).
writeLock(paths, { pid: process.pid, port: PORT, state: paths.persistDir, startedAt: new Date().toISOString() });
process.on("exit", () => releaseLock(paths));

const { vars, notes } = ensureLocalSecrets(paths);
for (const note of notes) console.log(note);

const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  // request.cf cannot be fetched from this network: geography is unknown locally (tests inject cf).
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  // --env-file below is read only while this is true; and no other process variable becomes a secret.
  CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
  CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
};
const wrangler = wranglerBin();
const persist = ["--persist-to", paths.persistDir];

// Non-interactive on purpose: wrangler asks "About to apply N migration(s)… continue?" unless
// stdin and stdout are both TTYs (workers-utils isInteractive) and CI is unset (ci-info); here stdin
// is not a TTY and CI is set, so it logs the question and applies ("fallback value: yes").
const migrate = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", "updraft", "--local", ...persist], {
  env: { ...env, CI: "true" },
  stdio: ["ignore", "inherit", "inherit"],
});
if (migrate.error) fail(`could not run wrangler: ${migrate.error.message}`);
if (migrate.status !== 0) fail("applying the D1 migrations failed (see above).");

// wrangler dev reads .dev.vars only without --env-file: a .dev.vars left with a developer's own
// variables (after the secrets moved out of it) still reaches the Worker, before our secrets.
const envFiles = [
  ...(paths.legacyDevVars && existsSync(paths.legacyDevVars) ? ["--env-file", paths.legacyDevVars] : []),
  "--env-file",
  paths.secretsFile,
];
// Deployment settings taken from this process's environment (process variables do not reach the
// Worker otherwise): PACKAGE_BASE_URL, the public base URL of package downloads (docs/deploy.md).
const settings = [];
for (const name of ["PACKAGE_BASE_URL"]) {
  const value = process.env[name];
  if (value !== undefined && value !== "") settings.push("--var", `${name}:${value}`);
}
const dev = spawn(
  process.execPath,
  [
    wrangler,
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(PORT),
    ...persist,
    ...envFiles,
    ...settings,
    "--show-interactive-dev-session=false",
  ],
  { env, stdio: ["ignore", "inherit", "inherit"] },
);
let stopping = false;
const stop = () => {
  stopping = true;
  dev.kill("SIGINT");
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, stop);
// Stopped on purpose: 0, or the failure code set before stopping (process.exitCode).
dev.on("exit", (code, signal) => process.exit(stopping ? (process.exitCode ?? 0) : (code ?? (signal ? 1 : 0))));

async function waitUntilUp() {
  for (let i = 0; i < 480; i++) {
    if (dev.exitCode !== null) throw new Error("wrangler dev exited before it answered (see above)");
    let res = null;
    try {
      res = await fetch(`${BASE}/healthz`, { signal: AbortSignal.timeout(2000) });
    } catch {}
    if (res?.ok) return;
    // Up, but a deployment setting is invalid (e.g. PACKAGE_BASE_URL): waiting will not fix it.
    const problem = res?.status === 503 ? await res.json().catch(() => null) : null;
    if (problem?.code === "SERVICE_MISCONFIGURED") throw new Error(`the server refuses to serve: ${problem.detail}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("wrangler dev did not answer GET /healthz within 2 minutes");
}

/** Runs the demo check; the curl line is printed only when this answers an update. */
async function demoCheck() {
  const res = await fetch(`${BASE}/v1/check`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(DEMO_CHECK),
  });
  const text = await res.text();
  if (!res.ok) return { ok: false, what: `${res.status} ${text}` };
  const result = JSON.parse(text).results?.[0];
  if (result?.action !== "update") return { ok: false, what: `action "${result?.action}"` };
  return { ok: true, version: result.version };
}

/** Rebuilds the delivery data of every environment of the token's workspace; false when that failed. */
async function rebuildDelivery(token) {
  const headers = { authorization: `Bearer ${token}` };
  const res = await fetch(`${BASE}/v1/admin/apps`, { headers });
  if (!res.ok) return false;
  const { items } = await res.json();
  let rebuilt = true;
  for (const app of items ?? []) {
    for (const env of app.environments ?? []) {
      const url = `${BASE}/v1/admin/apps/${encodeURIComponent(app.key)}/environments/${encodeURIComponent(env.name)}/rebuild-delivery`;
      const answer = await fetch(url, { method: "POST", headers });
      rebuilt &&= answer.ok;
    }
  }
  return rebuilt;
}

try {
  await waitUntilUp();
  const seeded = await seedDemo(BASE, {
    bootstrapSecret: vars.BOOTSTRAP_SECRET,
    demoFile: paths.demoFile,
    publisherKeyFile: paths.publisherKeyFile,
  });
  let check = await demoCheck();
  if (!check.ok && seeded.token) {
    // State written by a version that kept one snapshot per environment has no delivery parts yet:
    // rebuild the workspace's environments from the database once, then look again.
    if (await rebuildDelivery(seeded.token)) check = await demoCheck();
  }
  const reset = process.env.UPDRAFT_STATE_DIR
    ? `stop this server (Ctrl-C) and run \`UPDRAFT_STATE_DIR=${process.env.UPDRAFT_STATE_DIR} npm run reset\`, then start again`
    : "stop this server (Ctrl-C), run `npm run reset`, then `npm start` again";
  console.log("\n──────── Updraft is running on", BASE, "────────");
  if (seeded.token) console.log(`Admin token (demo workspace): ${seeded.token}`);
  else {
    console.log(
      `This local state has a workspace whose admin token is lost (${show(paths.demoFile)} is missing or ` +
        `from another state), and bootstrap works only once. For a fresh demo with a token: ${reset}.`,
    );
  }
  if (check.ok) {
    console.log(`Try an update check for a device on demo-pay 1.0.0 (it is offered ${check.version}):\n`);
    console.log(
      `curl -sS -X POST ${BASE}/v1/check -H 'content-type: application/json' -d '${JSON.stringify(DEMO_CHECK)}'`,
    );
  } else {
    console.log(
      `The demo's update check (a device on demo-pay 1.0.0) answers ${check.what} instead of an update: ` +
        `the demo was changed since it was seeded. For a fresh demo: ${reset}.`,
    );
  }
  console.log(`\nOpenAPI document: ${BASE}/openapi.json   Stop with Ctrl-C.\n`);
} catch (error) {
  if (!stopping) {
    console.error(`\nnpm start: ${error instanceof Error ? error.message : String(error)}`);
    console.error("The next `npm start` picks up where this one stopped.\n");
    process.exitCode = 1;
    stop();
  }
}
