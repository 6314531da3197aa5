// `npm start`: local D1/R2/KV on workerd through wrangler dev, migrations applied, demo workspace seeded.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { seedDemo } from "./demo-seed.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const BASE = `http://127.0.0.1:${PORT}`;
// request.cf cannot be fetched from this network: geography is unknown locally (tests inject cf).
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

// Local secrets: generated once per checkout, never committed (.gitignore).
// Missing keys are added to an existing file, so checkouts from before a new secret keep working.
const LOCAL_SECRETS = {
  SIGNING_KEY_SEED: () => randomBytes(32).toString("base64url"),
  SIGNING_KEY_ID: () => "local-dev",
  BOOTSTRAP_SECRET: () => randomBytes(24).toString("base64url"),
  BUCKET_KEY: () => randomBytes(16).toString("hex"),
};
const existing = existsSync(".dev.vars") ? readFileSync(".dev.vars", "utf8") : "";
const missing = Object.entries(LOCAL_SECRETS).filter(([k]) => !new RegExp(`^${k}=`, "m").test(existing));
if (missing.length > 0) {
  const prefix = existing === "" || existing.endsWith("\n") ? existing : `${existing}\n`;
  writeFileSync(".dev.vars", prefix + missing.map(([k, make]) => `${k}=${make()}\n`).join(""));
}
const vars = Object.fromEntries(
  readFileSync(".dev.vars", "utf8")
    .split("\n")
    .filter((l) => l.includes("="))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);

const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "updraft", "--local"], { env, stdio: "inherit" });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const dev = spawn(
  "wrangler",
  ["dev", "--ip", "127.0.0.1", "--port", String(PORT), "--show-interactive-dev-session=false"],
  {
    env,
    stdio: ["ignore", "inherit", "inherit"],
  },
);
const stop = () => dev.kill("SIGINT");
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
dev.on("exit", (code) => process.exit(code ?? 0));

async function waitUntilUp() {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${BASE}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("wrangler dev did not come up within 60 s");
}

async function demoToken() {
  const file = ".updraft/demo.json";
  if (existsSync(file)) {
    const { token } = JSON.parse(readFileSync(file, "utf8"));
    const res = await fetch(`${BASE}/v1/admin/apps`, { headers: { authorization: `Bearer ${token}` } });
    if (res.ok) return token;
  }
  const token = await seedDemo(BASE, vars.BOOTSTRAP_SECRET);
  if (token === null) return null;
  mkdirSync(".updraft", { recursive: true });
  writeFileSync(file, JSON.stringify({ token }, null, 2));
  return token;
}

try {
  await waitUntilUp();
  const token = await demoToken();
  const check = JSON.stringify({
    appId: "demo-wallet",
    env: "prod",
    deviceId: "device-1",
    appVersion: "8.2.0",
    miniPrograms: [{ id: "demo-pay", version: "1.0.0" }],
  });
  console.log("\n──────── Updraft is running on", BASE, "────────");
  if (token) console.log(`Admin token (demo workspace): ${token}`);
  else
    console.log("The local state has a workspace but .updraft/demo.json is gone: run `npm run reset` to start over.");
  console.log("Try an update check for a device on demo-pay 1.0.0:\n");
  console.log(`curl -s -X POST ${BASE}/v1/check -H 'content-type: application/json' -d '${check}'`);
  console.log(`\nOpenAPI document: ${BASE}/openapi.json   Stop with Ctrl-C.\n`);
} catch (error) {
  console.error(String(error));
  stop();
  process.exit(1);
}
