// `npm run bench`: HTTP benchmark of POST /v1/check against a trivial route of the same server.
// Starts the built Worker on bare Miniflare (no wrangler dev proxy) on 127.0.0.1 with local D1/R2/KV,
// seeds a workspace through the admin API, then runs bounded load at several concurrencies.
// Prints figures only; asserts nothing about time.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";

const MINI_PROGRAMS = Number(process.env.BENCH_MINI_PROGRAMS ?? 20);
const LEVELS = [
  { c: 1, requests: 1500 },
  { c: 8, requests: 4000 },
  { c: 64, requests: 6000 },
];
const MAX_SECONDS_PER_RUN = 20;

const work = mkdtempSync(join(tmpdir(), "updraft-bench-"));
execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", join(work, "dist")], {
  stdio: "ignore",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
const bootstrapSecret = randomBytes(16).toString("hex");
// Miniflare 5 takes a new options shape; convertV4MiniflareOptions accepts the classic one.
const mf = new Miniflare(
  convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    workers: [
      {
        name: "updraft",
        modules: true,
        modulesRoot: join(work, "dist"),
        scriptPath: join(work, "dist", "index.js"),
        compatibilityDate: "2026-10-01",
        compatibilityFlags: ["nodejs_compat"],
        d1Databases: { DB: "bench-db" },
        r2Buckets: { PACKAGES: "bench-packages" },
        kvNamespaces: { SNAPSHOTS: "bench-snapshots" },
        durableObjects: { ADMISSIONS: "AdmissionCounter" },
        bindings: {
          MAX_PACKAGE_BYTES: "20971520",
          SIGNING_KEY_SEED: randomBytes(32).toString("base64url"),
          SIGNING_KEY_ID: "bench",
          BOOTSTRAP_SECRET: bootstrapSecret,
          BUCKET_KEY: randomBytes(16).toString("hex"),
        },
      },
    ],
  }),
);

async function main() {
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB");
  for (const file of readdirSync("drizzle")
    .filter((f) => f.endsWith(".sql"))
    .sort()) {
    for (const statement of readFileSync(join("drizzle", file), "utf8").split("--> statement-breakpoint")) {
      if (statement.trim()) await db.prepare(statement).run();
    }
  }
  const token = await seed(url);
  const bodies = devices(500);

  console.log(`updraft bench: ${MINI_PROGRAMS} mini programs per check, Miniflare on ${url}, node ${process.version}`);
  for (const { c, requests } of LEVELS) {
    await load(url, c, 200, () => ({ path: "/healthz" })); // warm-up
    await load(url, c, 200, (i) => ({ path: "/v1/check", body: bodies[i % bodies.length] }));
    const trivial = await load(url, c, requests, () => ({ path: "/healthz" }));
    const check = await load(url, c, requests, (i) => ({ path: "/v1/check", body: bodies[i % bodies.length] }));
    console.log(
      `c=${c} check=${check.rps.toFixed(0)} trivial=${trivial.rps.toFixed(0)} ratio=${(check.rps / trivial.rps).toFixed(2)} ` +
        `p50=${check.p50.toFixed(2)}ms p99=${check.p99.toFixed(2)}ms trivial_p50=${trivial.p50.toFixed(2)}ms ` +
        `errors=${check.errors + trivial.errors}`,
    );
  }
  void token;
}

async function seed(url) {
  const boot = await fetch(`${url}/v1/bootstrap`, {
    method: "POST",
    headers: { "content-type": "application/json", "updraft-bootstrap-secret": bootstrapSecret },
    body: JSON.stringify({ workspaceName: "Bench", adminName: "Bench", adminEmail: "bench@bench.test" }),
  });
  const { token } = await boot.json();
  const call = async (method, path, body, type = "application/json") => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": type },
      body: body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
    return res.json();
  };
  await call("POST", "/v1/admin/apps", { key: "bench-app", name: "Bench", platforms: ["ios", "android"] });
  for (let m = 0; m < MINI_PROGRAMS; m++) {
    const key = `mp-${m}`;
    await call("POST", "/v1/admin/mini-programs", { key, names: { en: key }, defaultUpdateMode: "async" });
    for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
      const bytes = zipSync({ "index.js": strToU8(`// ${key} ${version}`) });
      await call(
        "POST",
        `/v1/admin/mini-programs/${key}/versions?version=${version}&compat=%3E%3D8.0.0`,
        bytes,
        "application/zip",
      );
    }
    for (const version of ["1.1.0", "1.2.0"]) {
      const rel = await call("POST", "/v1/admin/releases", {
        miniProgramId: key,
        version,
        appId: "bench-app",
        env: "prod",
      });
      for (const to of ["in_review", "approved", "full"])
        await call("POST", `/v1/admin/releases/${rel.id}/transitions`, { to });
    }
  }
  return token;
}

/** A varied mix of devices: ids, brands, models, OS and app versions, installed versions. */
function devices(n) {
  const brands = ["Apple", "samsung", "HUAWEI", "Xiaomi", "OPPO"];
  const appVersions = ["7.9.0", "8.0.0", "8.2.1", "9.0", "8.5.3.1200"];
  const installed = [null, "1.0.0", "1.1.0", "1.2.0"];
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      appId: "bench-app",
      env: "prod",
      deviceId: `device-${i}`,
      userId: i % 3 === 0 ? `user-${i}` : undefined,
      appVersion: appVersions[i % appVersions.length],
      platform: i % 2 ? "ios" : "android",
      osVersion: `${14 + (i % 4)}.0`,
      brand: brands[i % brands.length],
      model: `model-${i % 17}`,
      network: i % 4 ? "wifi" : "4g",
      language: i % 2 ? "en" : "zh-CN",
      miniPrograms: Array.from({ length: MINI_PROGRAMS }, (_, m) => ({
        id: `mp-${m}`,
        version: installed[(i + m) % 4],
      })),
    }),
  );
}

async function load(url, concurrency, total, next) {
  const latencies = [];
  let issued = 0;
  let errors = 0;
  const deadline = performance.now() + MAX_SECONDS_PER_RUN * 1000;
  const started = performance.now();
  const worker = async () => {
    while (issued < total && performance.now() < deadline) {
      const { path, body } = next(issued++);
      const t0 = performance.now();
      const res = await fetch(
        `${url}${path}`,
        body ? { method: "POST", headers: { "content-type": "application/json" }, body } : {},
      );
      const text = await res.text();
      if (!res.ok && errors++ === 0) console.error(`first error: ${path} ${res.status} ${text.slice(0, 300)}`);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { rps: latencies.length / seconds, p50: pct(0.5), p99: pct(0.99), errors };
}

try {
  await main();
} finally {
  await mf.dispose();
  rmSync(work, { recursive: true, force: true });
}
