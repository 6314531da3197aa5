// `npm run bench` (second part): HTTP benchmark of POST /v1/check against a trivial route and against
// the signed floor, on the same server. Builds the probe Worker (bench/probe-worker.ts: the real
// Worker plus /probe/* routes, among them /probe/floor) with `wrangler deploy --dry-run` and runs it
// on bare Miniflare on 127.0.0.1 with local D1/R2/KV and the AdmissionCounter and DeliveryIndex
// Durable Objects (SQLite-backed); load goes through a socket bound straight to the Worker (no
// Miniflare entry worker; BENCH_DIRECT=0 goes through it instead). Seeds the benchmark workspace of
// bench/fixtures.mjs (1,000,000-user allowlist, device denylist, BENCH_MINI_PROGRAMS mini programs,
// default 50, × 1 full + 3 canary releases of 5 rules, percentages, one capped time window): through
// the admin API up to 50 mini programs, above that straight into D1 (bench/bulk-seed.mjs) and one
// rebuild of the delivery state (BENCH_SEED=api|bulk chooses). Then
//   - per request at c=1, the stages trivial / floor / check interleaved per device in random order,
//     workerd's CPU read before and after each request: `c=1 check_cpu_us floor_cpu_us over_floor_us`;
//   - bounded load at concurrency 1, 8 and 64 from an undici Pool (one connection per concurrent
//     request, no pipelining), rounds alternating trivial, check and floor: `ratio` (check/trivial)
//     and `floor_ratio` (check/floor);
//   - after the c=8 load, the isolate's heap through the inspector (`heap used_mib total_mib`, with
//     what the delivery caches account for when the probe Worker tells);
//   - last, the scale phase: the cost of one release change and of a cold check (`scale n= change_ms
//     change_bytes fetched_bytes cold_check_ms`, see scale below).
// Prints figures only; asserts nothing about time.
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { strToU8, zipSync } from "fflate";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { Pool } from "undici";
import { bulkSeed } from "./bulk-seed.mjs";
import {
  ALLOWLIST_SIZE,
  ASKED,
  allowlisted,
  allowlistText,
  BUCKET_KEY,
  COMPAT,
  canaryReleases,
  DENYLIST_SIZE,
  denylistText,
  deviceMix,
  MINI_PROGRAMS,
  mpKey,
  TIME_WINDOW_CAP,
  VERSIONS,
} from "./fixtures.mjs";
import { connectInspector, startProfile, summarize } from "./profile.mjs";

const DEVICES = Number(process.env.BENCH_DEVICES ?? 2000);
const ONLY = process.env.BENCH_LEVELS?.split(",").map(Number);
const LEVELS = [
  { c: 1, requests: 2000 },
  { c: 8, requests: 12000 },
  { c: 64, requests: 12000 },
].filter(({ c }) => !ONLY || ONLY.includes(c));
/** With BENCH_BREAKDOWN=1, also prints what each stage of the check adds (see bench/probe-worker.ts). */
const BREAKDOWN = process.env.BENCH_BREAKDOWN === "1";
const BREAKDOWN_ROUNDS = 12;
const BREAKDOWN_REQUESTS = 800;
/** Requests per stage of the breakdown's per-request measurement (c=1, stages interleaved). */
const PER_REQUEST_DEVICES = Number(process.env.BENCH_PER_REQUEST ?? 2500);
/** With BENCH_PROFILE=<dir>, the Worker's CPU is profiled during the c=8 check runs (slows it down). */
const PROFILE_DIR = process.env.BENCH_PROFILE;
/**
 * By default (BENCH_DIRECT=0 turns it off), load goes to a socket bound straight to the Worker (Miniflare's
 * `unsafeDirectSockets`): workerd without Miniflare's entry worker, which otherwise rebuilds every
 * request in JavaScript before forwarding it. Closer to production, and a lighter harness for both
 * routes (request.cf is not injected there: the bench snapshot has no geography rule).
 */
const DIRECT = process.env.BENCH_DIRECT !== "0";
/**
 * Each level alternates trivial and check runs, ROUNDS of each with an equal share of the requests,
 * so drift in the machine's speed hits both alike; the per-round ratios are printed too.
 */
const ROUNDS = 4;
const MAX_SECONDS_PER_RUN = 15;
/** Seeding calls in flight (one mini program each). */
const SEED_CONCURRENCY = 4;
/**
 * How the mini programs are seeded (see seed): BENCH_SEED=api or bulk; by default through the admin
 * API up to 50 mini programs, straight into D1 above.
 */
const SEED = process.env.BENCH_SEED ?? (MINI_PROGRAMS > 50 ? "bulk" : "api");
if (SEED !== "api" && SEED !== "bulk") throw new Error(`BENCH_SEED must be api or bulk, not ${SEED}`);
/** The mini program that holds the one package bulk-seeded versions share (never released). */
const PACKAGE_KEY = "bench-package";
const TARGET = { appKey: "bench-app", env: "prod" };
/** Bounds on the probe routes' answers: the rebuild publishes every mini program (~1 min at 10,000). */
const PROBE_TIMEOUT_MS = 60_000;
const REBUILD_TIMEOUT_MS = 600_000;
/** Cold checks timed in the scale phase (each after the probe Worker's caches are dropped). */
const COLD_CHECKS = 5;
/**
 * With BENCH_PATCHES=1, every release has a ready incremental patch from each lower version (rows put
 * in D1, then the delivery state rebuilt) and every device declares `updraft-zstd-v1` and sends its
 * installed package's sha256: each update result then goes through the patch lookup and carries a
 * patch. Run it against a run without to see what the lookup adds to over_floor_us.
 */
const PATCHES = process.env.BENCH_PATCHES === "1";
/** With BENCH_CONSOLE=0, no console line. */
const CONSOLE = process.env.BENCH_CONSOLE !== "0";
const CONSOLE_REQUESTS = Number(process.env.BENCH_CONSOLE_REQUESTS ?? 200);
/**
 * The console line's two extra targets of bench-app (`test` exists; `staging` is added), seeded
 * through the admin API up to EXTRA_TARGETS_MAX mini programs.
 */
const EXTRA_ENVS = ["test", "staging"];
const EXTRA_TARGETS_MAX = 200;
/** With BENCH_EVENTS=0, no events line. */
const EVENTS = process.env.BENCH_EVENTS !== "0";
const EVENTS_PER_REQUEST = 20;
/** Requests per stage of the events line (split over ROUNDS). */
const EVENTS_REQUESTS = Number(process.env.BENCH_EVENTS_REQUESTS ?? 8000);
const EVENT_CYCLE = ["download_ok", "install_ok", "launch_ok", "launch_ok", "launch_ok"];
/** With BENCH_HEAP=0, no inspector: no heap line. */
const HEAP = process.env.BENCH_HEAP !== "0";
// request.cf as the platform would send it (Miniflare would otherwise try to download one).
const CF = { country: "CN", region: "Zhejiang", city: "Hangzhou", colo: "HKG", asn: 4134, timezone: "Asia/Shanghai" };

const bootstrapSecret = randomBytes(16).toString("hex");
const work = mkdtempSync(join(tmpdir(), "updraft-bench-"));
let mf;

function startServer() {
  // The Worker is bench/probe-worker.ts: the real one plus the /probe/* stages (the floor among them).
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", join(work, "dist"), "bench/probe-worker.ts"], {
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  // Miniflare 5 takes a new options shape; convertV4MiniflareOptions accepts the classic one.
  return new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      // The inspector (on 127.0.0.1) serves the profiler and the heap reading.
      ...(PROFILE_DIR || HEAP ? { inspectorPort: 0 } : {}),
      cf: CF,
      // Miniflare logs every request by default (its entry worker re-wraps each response and posts a
      // log line to this process): like wrangler dev's logging, that would hide our own cost.
      logRequests: false,
      workers: [
        {
          name: "updraft",
          ...(DIRECT ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
          modulesRoot: join(work, "dist"),
          // The bundle, and zstd's WebAssembly (patch builds) that wrangler writes beside it.
          modules: [
            { type: "ESModule", path: join(work, "dist", "probe-worker.js") },
            ...readdirSync(join(work, "dist"))
              .filter((f) => f.endsWith(".wasm"))
              .map((f) => ({ type: "CompiledWasm", path: join(work, "dist", f) })),
          ],
          compatibilityDate: "2026-10-01",
          compatibilityFlags: ["nodejs_compat"],
          d1Databases: { DB: "bench-db" },
          r2Buckets: { PACKAGES: "bench-packages" },
          kvNamespaces: { SNAPSHOTS: "bench-snapshots" },
          // wrangler.toml declares the class in new_sqlite_classes: it uses ctx.storage.sql.
          durableObjects: {
            ADMISSIONS: { className: "AdmissionCounter", useSQLite: true },
            DELIVERY: { className: "DeliveryIndex", useSQLite: true },
            MONITORS: { className: "ReleaseMonitor", useSQLite: true },
            AUDIENCES: { className: "AudienceMonitor", useSQLite: true },
          },
          // Device events (wrangler.toml's updraft-stats), and the events floor's own Queue.
          queueProducers: { STATS_QUEUE: "updraft-stats", FLOOR_QUEUE: "bench-events-floor" },
          // BENCH_STATS_CONSUMER=0: the stats Queue is not consumed here, so the check's figures hold
          // only what the check path itself does (deployed, the consumer runs in its own invocations).
          queueConsumers: {
            ...(process.env.BENCH_STATS_CONSUMER === "0"
              ? {}
              : { "updraft-stats": { maxBatchSize: 100, maxBatchTimeout: 1 } }),
            "bench-events-floor": { maxBatchSize: 100, maxBatchTimeout: 1 },
          },
          bindings: {
            MAX_PACKAGE_BYTES: "20971520",
            SIGNING_KEY_SEED: randomBytes(32).toString("base64url"),
            SIGNING_KEY_ID: "bench",
            BOOTSTRAP_SECRET: bootstrapSecret,
            BUCKET_KEY,
            // BENCH_STATS=0: statistics off, for the A/B of what recording checks costs (over_floor_us).
            STATS: process.env.BENCH_STATS === "0" ? "off" : "on",
          },
        },
      ],
    }),
  );
}

async function main() {
  const ready = await mf.ready;
  const url = (DIRECT ? await mf.unsafeGetDirectURL("updraft") : ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB");
  for (const file of readdirSync("drizzle")
    .filter((f) => f.endsWith(".sql"))
    .sort()) {
    for (const statement of readFileSync(join("drizzle", file), "utf8").split("--> statement-breakpoint")) {
      if (statement.trim()) await db.prepare(statement).run();
    }
  }
  const seeded = await seed(url);
  const devices = deviceMix(DEVICES);
  if (PATCHES) await withPatches(db, url, devices);
  const bodies = devices.map((d) => JSON.stringify(d));
  const pool = new Pool(url, { connections: 64, pipelining: 1 });
  try {
    const mix = await firstPass(pool, devices, bodies);
    console.log(
      `updraft HTTP bench: ${DIRECT ? "workerd through a direct socket (no Miniflare entry worker)" : "bare Miniflare"} on ${url}, node ${process.version}, undici Pool client in the same process; ` +
        `snapshot ${MINI_PROGRAMS} mini programs × (1 full + 3 canary releases × 5 rules), allowlist ${ALLOWLIST_SIZE.toLocaleString("en")} user ids, ` +
        `denylist ${DENYLIST_SIZE} device ids, time window capped at ${TIME_WINDOW_CAP}; ${DEVICES} devices × ${ASKED} mini programs per check`,
    );
    console.log(`  ${seedingLine(seeded)}`);
    console.log(`  mix: ${mix}`);
    const trivial = () => ({ path: "/healthz" });
    const check = (i) => ({ path: "/v1/check", body: bodies[i % bodies.length] });
    const floorOf = (i) => ({ path: "/probe/floor", body: bodies[i % bodies.length] });
    const overFloor = await perRequest(pool, [
      ["trivial GET /healthz", trivial],
      ["floor: signed, no decisions", floorOf],
      ["check", check],
    ]);
    console.log(
      `c=1 check_cpu_us=${overFloor[2].mean.toFixed(0)} floor_cpu_us=${overFloor[1].mean.toFixed(0)} ` +
        `over_floor_us=${(overFloor[2].mean - overFloor[1].mean).toFixed(0)} ` +
        `(trivial ${overFloor[0].mean.toFixed(0)} µs; trimmed means of ${PER_REQUEST_DEVICES} requests per stage)`,
    );
    const cpu = [];
    for (const { c, requests } of LEVELS) {
      await load(pool, c, 300, trivial); // warm-up
      await load(pool, c, 300, check);
      await load(pool, c, 300, floorOf);
      const t = [];
      const k = [];
      const f = [];
      const profiles = [];
      for (let r = 0; r < ROUNDS; r++) {
        t.push(await load(pool, c, requests / ROUNDS, trivial));
        const stop = PROFILE_DIR && c === 8 ? await startProfile(mf, "updraft") : null;
        k.push(await load(pool, c, requests / ROUNDS, check));
        if (stop) profiles.push(await stop());
        f.push(await load(pool, c, requests / ROUNDS, floorOf));
      }
      const tr = merge(t);
      const ck = merge(k);
      const fl = merge(f);
      const errors = tr.errors + ck.errors + fl.errors;
      const perRound = k.map((run, r) =>
        (run.latencies.length / run.seconds / (t[r].latencies.length / t[r].seconds)).toFixed(2),
      );
      console.log(
        `c=${c} check=${ck.rps.toFixed(0)} floor=${fl.rps.toFixed(0)} trivial=${tr.rps.toFixed(0)} ratio=${(ck.rps / tr.rps).toFixed(2)} floor_ratio=${(ck.rps / fl.rps).toFixed(2)} ` +
          `p50=${ck.p50.toFixed(2)}ms p99=${ck.p99.toFixed(2)}ms${errors ? ` errors=${errors}` : ""} (per round: ${perRound.join(" ")})`,
      );
      cpu.push(
        `c=${c} trivial ${tr.client.toFixed(2)}/${tr.server.toFixed(2)} check ${ck.client.toFixed(2)}/${ck.server.toFixed(2)}`,
      );
      if (profiles[0]) summarize(profiles[0], PROFILE_DIR, `check-c${c}`);
      // The isolate's heap once the c=8 load has filled its caches (else after the last level).
      if (HEAP && (c === 8 || (!LEVELS.some((l) => l.c === 8) && c === LEVELS.at(-1).c))) await printHeap(url);
    }
    if (HEAP && LEVELS.length === 0) await printHeap(url);
    console.log(`  CPU in cores (load client / workerd) while measuring: ${cpu.join("; ")}`);
    if (EVENTS && process.env.BENCH_STATS !== "0") await eventsBench(pool, url, seeded.token);
    if (CONSOLE) await consoleBench(pool, url, seeded.token);
    if (BREAKDOWN) await breakdown(pool, bodies);
    // Last: its release change and cache drops would otherwise touch the measurements above.
    await scale(pool, url, seeded, bodies);
  } finally {
    await pool.close();
  }
}

/**
 * The console's pages (docs/console.md): workerd CPU per page at c=1, the overview and a bench-app
 * prod canary's release page (estimate, health, timeline and chart included), interleaved with the
 * trivial route, signed in with the bench token's session cookie. Target: under 50 ms a page, with a
 * workspace of MINI_PROGRAMS mini programs × 3 targets: first, every mini program is released on two
 * more targets of bench-app through the admin API (the app's `test` environment and a new `staging`),
 * 1.0.0 full and a 1.1.0 canary at 10 % on each, beside its 1 full + 3 canaries on prod. Above
 * EXTRA_TARGETS_MAX mini programs (bulk seeding) that would take too long: the console is then
 * measured on prod alone, and the line says so.
 */
async function consoleBench(pool, url, token) {
  const call = adminCaller(url, token);
  let workspace;
  if (MINI_PROGRAMS <= EXTRA_TARGETS_MAX) {
    const started = performance.now();
    await call("POST", `/v1/admin/apps/${TARGET.appKey}/environments`, { name: "staging" });
    const targets = EXTRA_ENVS.map((env) => ({ appId: TARGET.appKey, env }));
    await forEachMiniProgram(async (m) => {
      for (const target of targets) {
        const mp = { ...target, miniProgramId: mpKey(m) };
        await seedRelease(call, mp, "1.0.0", "full");
        await seedRelease(call, mp, "1.1.0", "canary", { percentage: { basisPoints: 1000 } });
      }
    });
    const seconds = (performance.now() - started) / 1000;
    workspace =
      `${MINI_PROGRAMS} mini programs × 3 targets (bench-app ${TARGET.env}: 1 full + 3 canary releases each; ` +
      `${EXTRA_ENVS.join(" and ")}: 1 full + 1 canary each, seeded through the admin API in ${seconds.toFixed(1)} s)`;
  } else {
    workspace =
      `${MINI_PROGRAMS} mini programs × 1 target (bench-app ${TARGET.env}: 1 full + 3 canary releases each; ` +
      `the 2 extra targets skipped above ${EXTRA_TARGETS_MAX} mini programs: too slow to seed through the admin API)`;
  }
  const signIn = await fetch(`${url}/console/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }).toString(),
  });
  const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0];
  // A canary of the bench target (5 rules), as before the extra targets.
  const query = `appId=${TARGET.appKey}&env=${TARGET.env}&status=canary&limit=1`;
  const [canary] = (await call("GET", `/v1/admin/releases?${query}`)).items;
  // The estimate's cost depends on the audience sample: measure once the checks' devices reached it.
  let sampled = 0;
  for (let i = 0; i < 150 && sampled === 0; i++) {
    sampled = (await call("POST", `/v1/admin/releases/${canary.id}/estimate`, { percentage: 2000 })).sampled;
    if (sampled === 0) await new Promise((r) => setTimeout(r, 200));
  }
  const headers = { cookie };
  const [trivial, overview, release] = await perRequest(
    pool,
    [
      ["trivial GET /healthz", () => ({ path: "/healthz" })],
      ["GET /console", () => ({ path: "/console", headers })],
      ["GET /console/releases/{id}", () => ({ path: `/console/releases/${canary.id}?basisPoints=2000`, headers })],
    ],
    CONSOLE_REQUESTS,
  );
  console.log(
    `console page_cpu_ms overview=${(overview.mean / 1000).toFixed(1)} release=${(release.mean / 1000).toFixed(1)} ` +
      `(trivial ${(trivial.mean / 1000).toFixed(2)} ms; trimmed means of ${CONSOLE_REQUESTS} requests per page; ` +
      `${workspace}; release page of a ${TARGET.env} canary with an estimate over a sample of ${sampled} devices)`,
  );
}

/**
 * POST /v1/events at c=8, 20 events per request, against its floor (/probe/events-floor: the same
 * read and validation, then one Queue send per request, no aggregation) and the trivial route, in
 * alternating rounds. Every request comes from a new device (the per-device limit would otherwise
 * refuse them) and names a real release, so the Queue consumer counts them in its monitor meanwhile.
 */
async function eventsBench(pool, url, token) {
  const res = await fetch(`${url}/v1/admin/releases?limit=1&status=full`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const [release] = (await res.json()).items;
  const now = Date.now();
  const bodyFor = (prefix) => (i) => {
    const deviceId = `${prefix}-${i}`;
    const events = Array.from({ length: EVENTS_PER_REQUEST }, (_, k) => ({
      id: `e${k}`,
      type: EVENT_CYCLE[k % EVENT_CYCLE.length],
      miniProgram: release.miniProgramKey,
      version: release.version,
      releaseId: release.id,
      at: now,
      errorCode: null,
    }));
    return JSON.stringify({ appId: release.appKey, env: release.env, deviceId, events });
  };
  const body = { events: bodyFor("ev"), floor: bodyFor("fl") };
  let n = 0;
  const events = () => ({ path: "/v1/events", body: body.events(n++) });
  const floor = () => ({ path: "/probe/events-floor", body: body.floor(n++) });
  const trivial = () => ({ path: "/healthz" });
  const c = 8;
  await load(pool, c, 300, trivial);
  await load(pool, c, 300, events);
  await load(pool, c, 300, floor);
  const t = [];
  const e = [];
  const f = [];
  for (let r = 0; r < ROUNDS; r++) {
    t.push(await load(pool, c, EVENTS_REQUESTS / ROUNDS, trivial));
    e.push(await load(pool, c, EVENTS_REQUESTS / ROUNDS, events));
    f.push(await load(pool, c, EVENTS_REQUESTS / ROUNDS, floor));
  }
  const [tr, ev, fl] = [merge(t), merge(e), merge(f)];
  const errors = tr.errors + ev.errors + fl.errors;
  console.log(
    `c=${c} events=${ev.rps.toFixed(0)} floor=${fl.rps.toFixed(0)} trivial=${tr.rps.toFixed(0)} floor_ratio=${(ev.rps / fl.rps).toFixed(2)} ` +
      `(${EVENTS_PER_REQUEST} events per request; p50=${ev.p50.toFixed(2)}ms p99=${ev.p99.toFixed(2)}ms${errors ? ` errors=${errors}` : ""})`,
  );
}

/**
 * The check's cost by stage at c=8: the trivial route, then POST routes of the probe Worker that stop
 * after reading the body, after parsing it and after deciding, then the whole check. Rounds
 * alternate the stages; each line gives the median over rounds of requests/s, of the ratio to the
 * trivial route of the same round, of workerd's CPU time per request and of what the stage adds to
 * the trivial run of the same round. The last stage runs the whole check twice in one request: the
 * second run shows what a check costs once its code and data are warm.
 */
async function breakdown(pool, bodies) {
  const post = (path) => (i) => ({ path, body: bodies[i % bodies.length] });
  const stages = [
    ["trivial GET /healthz", () => ({ path: "/healthz" })],
    ["+ POST body read", post("/probe/body")],
    ["+ parse and validate", post("/probe/parse")],
    ["+ decide 20 mini programs", post("/probe/decide")],
    ["+ answer body, unsigned", post("/probe/answer")],
    ["+ Ed25519 signature (= check)", post("/v1/check")],
    ["floor: signed, no decisions", post("/probe/floor")],
    ["check run twice in one request", post("/probe/twice")],
  ];
  for (const [, next] of stages) await load(pool, 8, 300, next);
  const runs = stages.map(() => []);
  for (let r = 0; r < BREAKDOWN_ROUNDS; r++) {
    for (const [i, [, next]] of stages.entries()) runs[i].push(await load(pool, 8, BREAKDOWN_REQUESTS, next));
  }
  const med = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const rps = (run) => run.latencies.length / run.seconds;
  console.log(
    `  breakdown at c=8 (medians over ${BREAKDOWN_ROUNDS} alternating rounds of ${BREAKDOWN_REQUESTS} requests per stage):`,
  );
  for (const [i, [name]] of stages.entries()) {
    const ratio = med(runs[i].map((run, r) => rps(run) / rps(runs[0][r])));
    const cpuOf = (run) => (run.serverCpu / run.latencies.length) * 1e6;
    // Paired with the trivial run of the same round, so drift in the machine's speed cancels out.
    const added = runs[i].map((run, r) => cpuOf(run) - cpuOf(runs[0][r])).sort((a, b) => a - b);
    const q = (f) => added[Math.floor(f * (added.length - 1))] ?? 0;
    console.log(
      `    ${name.padEnd(30)} ${med(runs[i].map(rps)).toFixed(0).padStart(5)} req/s  ratio=${ratio.toFixed(2)}  ` +
        `workerd CPU ${med(runs[i].map(cpuOf)).toFixed(0)} µs/request, +${med(added).toFixed(0)} µs over trivial ` +
        `(quartiles ${q(0.25).toFixed(0)}..${q(0.75).toFixed(0)})`,
    );
  }
  printPerRequest(stages, await perRequest(pool, stages));
}

/**
 * workerd CPU per request by stage, with far less noise than rounds: one request at a time (c=1),
 * the stages in a new random order for every device, and workerd's CPU read before and after each
 * request. Every request meets the same mix of predecessors, so caches are as cold for each stage
 * and the machine's drift hits them all alike. Prints the trimmed mean (10 % off each end) and the
 * median per stage, each less the trivial route's.
 */
async function perRequest(pool, stages, count = PER_REQUEST_DEVICES) {
  const threads = workerdThreads();
  const one = async ({ path, body, headers = {} }) => {
    const res = await pool.request(
      body
        ? { path, method: "POST", headers: { "content-type": "application/json", ...headers }, body }
        : { path, method: "GET", headers },
    );
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path} → ${res.statusCode}`);
  };
  const samples = stages.map(() => []);
  const order = stages.map((_, i) => i);
  let seed = 1;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  for (let d = 0; d < count; d++) {
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      [order[k], order[j]] = [order[j], order[k]];
    }
    for (const i of order) {
      const request = stages[i][1](d);
      const before = threadCpuSeconds(threads);
      await one(request);
      samples[i].push((threadCpuSeconds(threads) - before) * 1e6);
    }
  }
  const summary = (values) => {
    const v = [...values].sort((a, b) => a - b);
    const kept = v.slice(Math.floor(v.length * 0.1), Math.ceil(v.length * 0.9));
    return { mean: kept.reduce((a, b) => a + b, 0) / kept.length, median: v[Math.floor(v.length / 2)] ?? 0 };
  };
  return samples.map(summary);
}

/** The per-request table of the breakdown: each stage's trimmed mean and median, less the trivial route's. */
function printPerRequest(stages, summaries) {
  const base = summaries[0];
  console.log(
    `  workerd CPU per request at c=1, stages interleaved per device in random order (${PER_REQUEST_DEVICES} requests per stage), ` +
      "trimmed mean and median, each also less the trivial route's:",
  );
  for (const [i, [name]] of stages.entries()) {
    const { mean, median } = summaries[i];
    console.log(
      `    ${name.padEnd(30)} ${mean.toFixed(0).padStart(5)} µs (+${(mean - base.mean).toFixed(0)})  median ${median.toFixed(0)} µs (+${(median - base.median).toFixed(0)})  ratio=${(base.mean / mean).toFixed(2)}`,
    );
  }
}

/**
 * Seeds the benchmark workspace. The workspace, the app, the allowlists come from the admin API; then
 * the mini programs, their versions and releases either through the admin API too (BENCH_SEED=api,
 * the default up to 50 mini programs: how the tour-like numbers are measured) or straight into D1
 * (BENCH_SEED=bulk, the default above 50: bench/bulk-seed.mjs, with one package uploaded through the
 * API for all versions), followed by one rebuild of the delivery state. Returns how long each part
 * took, the admin token and what the rebuild reported (null when not asked or not available).
 */
async function seed(url) {
  const started = performance.now();
  const boot = await fetch(`${url}/v1/bootstrap`, {
    method: "POST",
    headers: { "content-type": "application/json", "updraft-bootstrap-secret": bootstrapSecret },
    body: JSON.stringify({ workspaceName: "Bench", adminName: "Bench", adminEmail: "bench@bench.test" }),
  });
  if (!boot.ok) throw new Error(`bootstrap → ${boot.status} ${await boot.text()}`);
  const { token, workspaceId, memberId } = await boot.json();
  const call = adminCaller(url, token);
  // One bench member plays every role: it approves its own releases. It uploads unsigned packages:
  // the bench measures the check path, and upload signatures are verified off it (publishing.md).
  await call("PATCH", "/v1/admin/workspace", { allowSelfApproval: true, requireSignedUploads: false });

  const app = await call("POST", "/v1/admin/apps", { key: "bench-app", name: "Bench", platforms: ["ios", "android"] });
  const listStarted = performance.now();
  const users = await call("POST", "/v1/admin/allowlists", { name: "bench-users", kind: "user" });
  const uploaded = await call("PUT", `/v1/admin/allowlists/${users.id}/entries`, allowlistText(), "text/plain");
  if (uploaded.exactCount !== ALLOWLIST_SIZE) throw new Error(`allowlist holds ${uploaded.exactCount} entries`);
  const listSeconds = (performance.now() - listStarted) / 1000;
  const denied = await call("POST", "/v1/admin/allowlists", { name: "bench-denied-devices", kind: "device" });
  await call("PUT", `/v1/admin/allowlists/${denied.id}/entries`, denylistText(), "text/plain");
  const now = Date.now();
  const result = { token, listSeconds, bulk: null, rebuild: null };

  if (SEED === "bulk") {
    // One real package, uploaded through the API to a mini program of its own (never released, so
    // outside the delivery state): every bulk version points at its bytes.
    const bytes = zipSync({ "index.js": strToU8("// bench package") });
    await call("POST", "/v1/admin/mini-programs", { key: PACKAGE_KEY, names: { en: PACKAGE_KEY } });
    const pkg = await call(
      "POST",
      `/v1/admin/mini-programs/${PACKAGE_KEY}/versions?version=1.0.0&compat=${encodeURIComponent(COMPAT)}`,
      bytes,
      "application/zip",
    );
    const env = app.environments.find((e) => e.name === "prod");
    result.bulk = await bulkSeed(mf, {
      workspaceId,
      appId: app.id,
      environmentId: env.id,
      memberId,
      n: MINI_PROGRAMS,
      userList: users.id,
      deviceList: denied.id,
      now,
      pkg: { sha256: pkg.sha256, size: pkg.size, fileCount: pkg.fileCount },
    });
    const rebuildStarted = performance.now();
    result.rebuild = await rebuild(url, async () => {
      // Without the probe route: an identical upload of a version every bulk version shares is an
      // idempotent replay that republishes every environment the mini program is released on.
      const query = `version=1.0.0&compat=${encodeURIComponent(COMPAT)}`;
      await call("POST", `/v1/admin/mini-programs/${mpKey(0)}/versions?${query}`, bytes, "application/zip");
    });
    result.rebuildSeconds = (performance.now() - rebuildStarted) / 1000;
    result.seconds = (performance.now() - started) / 1000;
    return result;
  }

  const seedMiniProgram = async (m) => {
    const key = mpKey(m);
    await call("POST", "/v1/admin/mini-programs", { key, names: { en: key }, defaultUpdateMode: "async" });
    for (const version of VERSIONS) {
      const bytes = zipSync({ "index.js": strToU8(`// ${key} ${version}`) });
      const query = `version=${version}&compat=${encodeURIComponent(COMPAT)}`;
      await call("POST", `/v1/admin/mini-programs/${key}/versions?${query}`, bytes, "application/zip");
    }
    const target = { miniProgramId: key, appId: TARGET.appKey, env: TARGET.env };
    await seedRelease(call, target, "1.0.0", "full");
    for (const { version, targeting } of canaryReleases(m, { userList: users.id, deviceList: denied.id, now })) {
      await seedRelease(call, target, version, "canary", targeting);
    }
  };
  await forEachMiniProgram(seedMiniProgram);
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/**
 * The admin API with `token`: `call(method, path, body, type)` sends `body` as JSON (or as is, with
 * content type `type`, when bytes or text) and answers the parsed JSON, throwing unless 2xx. Seeding
 * runs SEED_CONCURRENCY mini programs at once on one environment: a transition that raced another on
 * it answers 409 CONFLICT and is retried, as any client should.
 */
function adminCaller(url, token) {
  return async (method, path, body, type = "application/json") => {
    let res;
    for (let attempt = 0; ; attempt++) {
      res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": type },
        body: body instanceof Uint8Array || typeof body === "string" ? body : JSON.stringify(body),
      });
      if (res.status !== 409 || attempt >= 20 || !path.endsWith("/transitions")) break;
      await res.text();
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${(await res.text()).slice(0, 500)}`);
    return res.json();
  };
}

/**
 * A release of `version` on `target` ({ miniProgramId, appId, env }) through the admin API, with
 * `targeting` when given, taken through in_review and approved to `to` (full or canary).
 */
async function seedRelease(call, target, version, to, targeting) {
  const rel = await call("POST", "/v1/admin/releases", { ...target, version });
  if (targeting) await call("PUT", `/v1/admin/releases/${rel.id}/targeting`, targeting);
  for (const step of ["in_review", "approved", to]) {
    await call("POST", `/v1/admin/releases/${rel.id}/transitions`, { to: step });
  }
  return rel;
}

/** `seedOne(m)` for every mini program number m, SEED_CONCURRENCY at a time. */
async function forEachMiniProgram(seedOne) {
  let next = 0;
  await Promise.all(
    Array.from({ length: SEED_CONCURRENCY }, async () => {
      while (next < MINI_PROGRAMS) await seedOne(next++);
    }),
  );
}

/**
 * BENCH_PATCHES=1: a ready patch (rows only; no bytes are served in the bench) from every version of
 * each mini program to every higher one, the delivery state rebuilt to carry them, and the devices
 * told to declare the patch format and their installed package's sha256.
 */
async function withPatches(db, url, devices) {
  const { results: versions } = await db
    .prepare(
      "select v.id, v.version, v.sha256, v.size, m.id as mp, m.key, m.workspace_id as ws from versions v join mini_programs m on m.id = v.mini_program_id",
    )
    .all();
  const shaOf = new Map(versions.map((v) => [`${v.key}@${v.version}`, v.sha256]));
  const now = Date.now();
  const rows = [];
  for (const base of versions) {
    for (const target of versions) {
      if (base.mp !== target.mp || !(base.version < target.version)) continue;
      const sha = createHash("sha256").update(`${base.id}>${target.id}`).digest("hex");
      rows.push(
        db
          .prepare(
            "insert into patches (id, workspace_id, mini_program_id, base_version_id, target_version_id, format, status, sha256, size, attempts, created_at, updated_at) values (?, ?, ?, ?, ?, 'updraft-zstd-v1', 'ready', ?, ?, 1, ?, ?)",
          )
          .bind(`pat_${sha.slice(0, 20)}`, base.ws, base.mp, base.id, target.id, sha, 1, now, now),
      );
    }
  }
  for (let i = 0; i < rows.length; i += 50) await db.batch(rows.slice(i, i + 50));
  await db.prepare("update environments set snapshot_version = snapshot_version + 1").run();
  await rebuild(url, async () => {
    throw new Error("BENCH_PATCHES needs the probe Worker's rebuild route");
  });
  for (const d of devices) {
    d.patchFormats = ["updraft-zstd-v1"];
    for (const m of d.miniPrograms) m.sha256 = m.version === null ? null : (shaOf.get(`${m.id}@${m.version}`) ?? null);
  }
  console.log(`BENCH_PATCHES=1: ${rows.length} ready patches in the delivery state; devices declare updraft-zstd-v1`);
}

/**
 * After a bulk seeding: one rebuild of the delivery state of (bench-app, prod) through the probe
 * Worker's POST /probe/delivery/rebuild, answering { parts, bytes } (and `ms` if it reports it).
 * Where the route is missing (older code), warns and rebuilds through `fallback` instead; returns
 * the route's answer, or null.
 */
async function rebuild(url, fallback) {
  const res = await probe(url, "POST", "/probe/delivery/rebuild", TARGET, REBUILD_TIMEOUT_MS);
  if (res.ok) return res.json;
  console.warn(
    `warning: POST /probe/delivery/rebuild answered ${res.status} (${res.text.slice(0, 120)}); ` +
      "rebuilding the delivery state through a replayed version upload instead",
  );
  try {
    await fallback();
  } catch (error) {
    console.warn(`warning: that failed too, checks see no delivery state: ${error.message.slice(0, 300)}`);
  }
  return null;
}

/**
 * One request to a probe route, given up after `timeoutMs`: { ok, status, json (when ok and JSON),
 * text }; status 0 when it timed out.
 */
async function probe(url, method, path, body, timeoutMs = PROBE_TIMEOUT_MS) {
  let res;
  let text;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    text = await res.text();
  } catch (error) {
    if (error?.name !== "TimeoutError") throw error;
    return { ok: false, status: 0, json: null, text: `no answer in ${timeoutMs / 1000} s` };
  }
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: not the contract's answer.
  }
  return { ok: res.ok && json !== null, status: res.status, json, text };
}

/** The seeding summary line. */
function seedingLine(seeded) {
  const list = `allowlist upload ${seeded.listSeconds.toFixed(1)} s`;
  if (seeded.bulk === null) return `seeding through the admin API: ${seeded.seconds.toFixed(1)} s (${list})`;
  const { ms, rows } = seeded.bulk;
  const bulk = ms / 1000;
  const admin = seeded.seconds - bulk - seeded.rebuildSeconds;
  const built = seeded.rebuild
    ? `POST /probe/delivery/rebuild ${seeded.rebuildSeconds.toFixed(1)} s (${seeded.rebuild.parts} parts, ` +
      `${seeded.rebuild.bytes} bytes${seeded.rebuild.ms === undefined ? "" : `, ${seeded.rebuild.ms} ms in the Worker`})`
    : `rebuilt through a replayed upload ${seeded.rebuildSeconds.toFixed(1)} s (no probe route)`;
  return (
    `seeding: ${seeded.seconds.toFixed(1)} s = admin API ${admin.toFixed(1)} s (${list}) + bulk D1 insert ` +
    `${bulk.toFixed(1)} s (${rows.miniPrograms} mini programs, ${rows.versions} versions, ${rows.releases} releases) + ${built}`
  );
}

/**
 * The isolate's heap after a full garbage collection, read through the inspector (Chrome DevTools
 * Protocol on target core:user:updraft), with what the probe Worker's GET /probe/delivery/memory
 * says the delivery caches account for, when it answers.
 */
async function printHeap(url) {
  let line;
  try {
    const { usedSize, totalSize } = await inspect("updraft", async (send) => {
      // workerd runs the collection V8 schedules for it (and then answers) only once the isolate
      // handles a request: trivial requests until it has.
      let collected = false;
      const gc = send("HeapProfiler.collectGarbage").then(() => {
        collected = true;
      });
      for (let i = 0; i < 50 && !collected; i++) {
        await (await fetch(`${url}/healthz`)).text();
        await Promise.race([gc, new Promise((r) => setTimeout(r, 100))]);
      }
      await gc;
      return send("Runtime.getHeapUsage");
    });
    line = `heap used_mib=${mib(usedSize)} total_mib=${mib(totalSize)}`;
  } catch (error) {
    console.log(`heap (inspector unavailable: ${error.message})`);
    return;
  }
  const memory = await probe(url, "GET", "/probe/delivery/memory");
  if (memory.ok && typeof memory.json.accountedBytes === "number") {
    line += ` accounted_mib=${mib(memory.json.accountedBytes)} budget_mib=${mib(memory.json.budgetBytes)}`;
    const members = Object.entries(memory.json.members ?? {}).map(([name, bytes]) => `${name} ${mib(bytes)}`);
    if (members.length > 0) line += `\n  accounted per member, MiB: ${members.join(", ")}`;
  }
  console.log(line);
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);

/** Runs `use(send)` on a CDP session with Miniflare worker `name`'s isolate (bench/profile.mjs). */
async function inspect(name, use) {
  const { send, close } = await connectInspector(mf, name);
  try {
    return await use(send);
  } finally {
    close();
  }
}

/**
 * The scale phase, through the probe Worker's /probe/delivery/* routes (bench/probe-worker.ts). One
 * release change: a rollout change of one mini program's 1.3.0 canary through the admin API, then
 *   change_bytes  what its publish wrote (GET /probe/delivery/last-publish → bytesWritten);
 *   change_ms     the compile time of that publish: `compileMs` when last-publish reports it, else
 *                 compileParts (src/domain/delivery.ts, bundled for Node) timed here on the relational
 *                 state of the changed mini program (POST /probe/delivery/source; inside workerd the
 *                 clock does not move during pure computation), median of COMPILE_RUNS after one run;
 *   fetched_bytes what a second, independent cache that had loaded 21 mini programs (device 0's and
 *                 the changed one, POST /probe/delivery/observer "warm" before the change) fetches to
 *                 see the change ("refresh");
 *   cold_check_ms one check of 20 mini programs right after the isolate's delivery and list caches
 *                 are dropped (POST /probe/delivery/cold), wall time at the client, median of
 *                 COLD_CHECKS devices.
 * Prints one `scale` line (`(probe routes missing)` when a route answers 404) and one detail line.
 */
async function scale(pool, url, seeded, bodies) {
  const head = `scale n=${MINI_PROGRAMS}`;
  const failed = (path, res) =>
    console.log(
      res.status === 404
        ? `${head} (probe routes missing)`
        : `${head} (probe ${path} answered ${res.status}: ${res.text.slice(0, 120).replace(/\s+/g, " ")})`,
    );
  // The changed mini program is one device 0 does not ask about (it asks about the first ASKED).
  const changed = mpKey(MINI_PROGRAMS - 1);
  const device0 = JSON.parse(bodies[0]);
  const ids = [...new Set([...device0.miniPrograms.map((m) => m.id), changed])];
  const observer = "/probe/delivery/observer";
  const warm = await probe(url, "POST", observer, { ...TARGET, ids, action: "warm" });
  if (!warm.ok) return failed(observer, warm);

  const admin = async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${seeded.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${(await res.text()).slice(0, 300)}`);
    return res.json();
  };
  const versions = await admin("GET", `/v1/admin/mini-programs/${changed}/versions`);
  const v130 = versions.items.find((v) => v.version === "1.3.0");
  const query = `appId=${TARGET.appKey}&env=${TARGET.env}&miniProgramId=${changed}&status=canary`;
  const release = (await admin("GET", `/v1/admin/releases?${query}`)).items.find((r) => r.versionId === v130?.id);
  if (!release) throw new Error(`no 1.3.0 canary release of ${changed}`);
  const basisPoints = (release.targeting?.percentage?.basisPoints ?? 0) + 100;
  const changeStarted = performance.now();
  await admin("PUT", `/v1/admin/releases/${release.id}/rollout`, { basisPoints });
  const changeWallMs = performance.now() - changeStarted;
  const lastPublish = "/probe/delivery/last-publish";
  const published = await probe(url, "GET", lastPublish);
  if (!published.ok || published.json === null) return failed(lastPublish, published);
  let compileMs = published.json.compileMs;
  let compiled = "reported by the Worker";
  if (typeof compileMs !== "number") {
    const sourcePath = "/probe/delivery/source";
    const source = await probe(url, "POST", sourcePath, { ...TARGET, key: changed });
    if (!source.ok) return failed(sourcePath, source);
    ({ ms: compileMs, text: compiled } = await timeCompile(source.json));
  }
  const refresh = await probe(url, "POST", observer, { ...TARGET, ids, action: "refresh" });
  if (!refresh.ok) return failed(observer, refresh);

  const cold = [];
  for (let d = 0; d < COLD_CHECKS; d++) {
    const dropped = await probe(url, "POST", "/probe/delivery/cold", TARGET);
    if (!dropped.ok) return failed("/probe/delivery/cold", dropped);
    const t0 = performance.now();
    const res = await pool.request({
      path: "/v1/check",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bodies[d % bodies.length],
    });
    const text = await res.body.text();
    cold.push(performance.now() - t0);
    if (res.statusCode !== 200) throw new Error(`cold check → ${res.statusCode} ${text.slice(0, 300)}`);
  }
  cold.sort((a, b) => a - b);
  console.log(
    `${head} change_ms=${compileMs.toFixed(3)} change_bytes=${published.json.bytesWritten} ` +
      `fetched_bytes=${refresh.json.fetchedBytes} cold_check_ms=${cold[Math.floor(cold.length / 2)].toFixed(1)}`,
  );
  console.log(
    `  scale: rollout change of ${changed} 1.3.0 to ${basisPoints} bp, ${changeWallMs.toFixed(0)} ms at the admin client, ` +
      `${published.json.parts ?? "?"} part(s) published; change_ms ${compiled}; observer warm-up fetched ` +
      `${warm.json.fetchedBytes} bytes; cold checks ${cold.map((ms) => ms.toFixed(1)).join(" ")} ms`,
  );
}

/** Runs of compileParts timed for change_ms (after one untimed run). */
const COMPILE_RUNS = 101;

/**
 * compileParts of src/domain/delivery.ts on `source`, bundled for Node with esbuild as bench/core.mjs
 * bundles the decision core: the median of COMPILE_RUNS runs, and a description of the measurement.
 */
async function timeCompile(source) {
  const { build } = await import("esbuild");
  const outfile = join(work, "compile-parts.mjs");
  await build({
    stdin: {
      contents: 'export { compileParts } from "./src/domain/delivery";',
      resolveDir: process.cwd(),
      loader: "ts",
      sourcefile: "bench-compile-entry.ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile,
    logLevel: "warning",
  });
  const { compileParts } = await import(pathToFileURL(outfile).href);
  const first = performance.now();
  const parts = compileParts(source);
  const firstMs = performance.now() - first;
  const runs = [];
  for (let i = 0; i < COMPILE_RUNS; i++) {
    const t0 = performance.now();
    compileParts(source);
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  const bytes = parts.reduce((sum, p) => sum + Buffer.byteLength(p.json), 0);
  return {
    ms: runs[Math.floor(runs.length / 2)],
    text:
      `compileParts in Node on its relational state (${parts.length} part${parts.length === 1 ? "" : "s"}, ${bytes} bytes): median of ` +
      `${COMPILE_RUNS} runs, first run ${firstMs.toFixed(3)} ms`,
  };
}

/**
 * One sequential check per device before any load (this is where the time window fills up to its
 * cap), summarized: what was offered, how many devices are allowlisted and in the time window.
 */
async function firstPass(pool, devices, bodies) {
  const offered = new Map();
  let windowed = 0;
  let signed = 0;
  for (let i = 0; i < bodies.length; i++) {
    const res = await pool.request({
      path: "/v1/check",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bodies[i],
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`check → ${res.statusCode} ${text.slice(0, 300)}`);
    if (res.headers["updraft-signature"]) signed++;
    for (const r of JSON.parse(text).results) {
      const k = r.action === "none" ? "none" : `${r.action}:${r.version}`;
      offered.set(k, (offered.get(k) ?? 0) + 1);
      if (r.id === mpKey(0) && r.version === "1.3.0") windowed++;
    }
  }
  const listed = devices.filter(allowlisted).length;
  const results = [...offered].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`);
  return `${results.join(" ")}; ${listed}/${devices.length} devices allowlisted, ${windowed} admitted to the time window, ${signed} signed answers`;
}

async function load(pool, concurrency, total, next) {
  const latencies = [];
  let issued = 0;
  let errors = 0;
  const deadline = performance.now() + MAX_SECONDS_PER_RUN * 1000;
  const started = performance.now();
  const client0 = process.cpuUsage();
  const server0 = serverCpuSeconds();
  const worker = async () => {
    while (issued < total && performance.now() < deadline) {
      const { path, body } = next(issued++);
      const t0 = performance.now();
      const res = await pool.request(
        body
          ? { path, method: "POST", headers: { "content-type": "application/json" }, body }
          : { path, method: "GET" },
      );
      const text = await res.body.text();
      latencies.push(performance.now() - t0);
      if ((res.statusCode < 200 || res.statusCode > 299) && errors++ === 0) {
        console.error(`first error: ${path} ${res.statusCode} ${text.slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const client = process.cpuUsage(client0);
  return {
    latencies,
    seconds: (performance.now() - started) / 1000,
    errors,
    clientCpu: (client.user + client.system) / 1e6,
    serverCpu: serverCpuSeconds() - server0,
  };
}

/** CPU seconds used so far by this process's child processes named workerd (Linux /proc; 0 elsewhere). */
function serverCpuSeconds() {
  return threadCpuSeconds(workerdThreads());
}

/**
 * The schedstat files of every thread of this process's workerd children (Linux /proc), or the
 * stat files of those processes where schedstat is missing; none elsewhere.
 */
function workerdThreads() {
  const files = [];
  try {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue;
      }
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (comm !== "workerd" || Number(fields[1]) !== process.pid) continue;
      const tasks = readdirSync(`/proc/${pid}/task`).map((tid) => `/proc/${pid}/task/${tid}/schedstat`);
      files.push(...(tasks.every((f) => existsSync(f)) ? tasks : [`/proc/${pid}/stat`]));
    }
  } catch {
    return [];
  }
  return files;
}

/** CPU seconds of those threads: nanoseconds on CPU from schedstat, else utime + stime in clock ticks. */
function threadCpuSeconds(files) {
  let total = 0;
  for (const file of files) {
    try {
      const text = readFileSync(file, "utf8");
      if (file.endsWith("schedstat")) total += Number(text.split(" ")[0]) / 1e9;
      else {
        const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
        total += (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ = 100
      }
    } catch {
      // A thread that ended: its time is no longer counted by either reading.
    }
  }
  return total;
}

function merge(runs) {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const cpu = (k) => runs.reduce((s, r) => s + r[k], 0) / seconds;
  return {
    client: cpu("clientCpu"),
    server: cpu("serverCpu"),
    rps: latencies.length / seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}

try {
  mf = startServer();
  await main();
} finally {
  await mf?.dispose();
  rmSync(work, { recursive: true, force: true });
}
