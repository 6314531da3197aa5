// `npm run bench:delta`: Updraft's incremental patches (updraft-zstd-v1, docs/patches.md) on
// consecutive real releases, against the best general delta tools.
//
// Releases come from npm (`npm pack`, extracted with tar) into bench/.cache/npm/ (git-ignored; a
// release already there is not fetched again):
//   - @vant/weapp 1.11.0 … 1.11.7, its dist/ folder as a mini program package (7 pairs);
//   - vue 3.5.10 … 3.5.17, dist/vue.runtime.global.prod.js alone: one large bundle (7 pairs);
//   - @tarojs/components 4.1.0 → 4.2.1, its dist/ folder, which holds all the built files (cjs/,
//     esm/, collection/, components/, hydrate/, types/ and taro-components/ with the content-hashed
//     p-<hash>.js chunks, renamed between the two releases) (1 pair).
// Per pair:
//   full     our package of the target: the deterministic zip of packages/cli/src/pack.ts (packFiles);
//   patch    our patch, built in workerd as the Queue consumer does (bench/delta-worker.ts: both zips
//            read from R2, unpacked with fflateReader.files, createPatch with the service's zstd at
//            PATCH_ZSTD_LEVEL, decoded again and compared, stored), one Queue message per pair;
//   bsdiff, xdelta3 (-9), zstd (-19 --long=27 --patch-from): each on the uncompressed tars of exactly
//            the same files (sorted, fixed mtime, owner and mode), the Debian packages' tools;
//   build    wall time of the job inside workerd (Date.now() around its phases: the script first
//            checks with a probe job that Date.now() advances during synchronous compute in this
//            workerd, and otherwise falls back to the time seen from Node around the Queue round
//            trip), with workerd's CPU time over the round trip beside it;
//   memory   see measureJob;
//   apply    the device path in Node: applyPatch with the SDK's pure-JS decoder (zstdDecompress),
//            median of 3 runs after a warm-up, every file compared with the target's afterwards;
//   vs best  our patch / the smallest of the three references.
// Last line: `geomean vs best=` over all pairs. Targets: geomean < 1.0 and no pair above 1.05.
//
// DELTA_PLANS=seg:dict[,seg:dict…] (MiB) also builds every pair with those createPatch plan options
// and prints their sizes (the first line per pair and the geomean stay the default plan's);
// DELTA_ONLY=vant-weapp,vue,taro-components limits the sets.
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { packFiles, readFolder } from "../packages/cli/src/pack.ts";
import { applyPatch, parsePatch, streamLength } from "../packages/sdk/src/patch.ts";
import { zstdDecompress } from "../packages/sdk/src/zstd-decode.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = join(ROOT, "bench", ".cache", "npm");
const range = (prefix, from, to) => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);
const SETS = [
  { label: "vant-weapp", name: "@vant/weapp", versions: range("1.11.", 0, 7), folder: "dist" },
  { label: "vue", name: "vue", versions: range("3.5.", 10, 17), folder: "dist", only: "vue.runtime.global.prod.js" },
  { label: "taro-components", name: "@tarojs/components", versions: ["4.1.0", "4.2.1"], folder: "dist" },
].filter((s) => !process.env.DELTA_ONLY || process.env.DELTA_ONLY.split(",").includes(s.label));
const PLANS = (process.env.DELTA_PLANS ?? "")
  .split(",")
  .filter(Boolean)
  .map((p) => {
    const [seg, dict] = p.split(":").map(Number);
    if (!(seg > 0 && dict > 0)) throw new Error(`DELTA_PLANS: "${p}" is not seg:dict in MiB`);
    return { name: p, plan: { segmentBytes: Math.round(seg * 2 ** 20), dictBytes: Math.round(dict * 2 ** 20) } };
  });
const TOOLS = [
  { command: "bsdiff", pkg: "bsdiff" },
  { command: "xdelta3", pkg: "xdelta3" },
  { command: "zstd", pkg: "zstd" },
];
const JOB_TIMEOUT_MS = 180_000;
const APPLY_RUNS = 3;
/** Deterministic tar: the given files in the given (sorted) order, no directories, fixed metadata. */
const TAR_FLAGS = ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--mode=a=r,u+w"];

const work = mkdtempSync(join(tmpdir(), "updraft-delta-"));
let mf;

const run = (file, args, options = {}) => execFileSync(file, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
const has = (command) => {
  try {
    run("sh", ["-c", `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
};

/** The reference tools, installed from Debian when missing. */
function ensureTools() {
  const missing = TOOLS.filter((t) => !has(t.command));
  if (missing.length > 0) {
    const pkgs = missing.map((t) => t.pkg);
    console.log(`installing ${pkgs.join(", ")} (missing) with apt-get…`);
    try {
      run("sh", ["-c", `apt-get update && apt-get install -y ${pkgs.join(" ")}`], { stdio: "ignore" });
    } catch {
      throw new Error(
        `bench:delta needs ${pkgs.join(", ")} and could not install them with apt-get (run as root, or install them: apt-get install -y ${pkgs.join(" ")})`,
      );
    }
    const still = missing.filter((t) => !has(t.command));
    if (still.length > 0) throw new Error(`${still.map((t) => t.command).join(", ")} still missing after apt-get`);
  }
  const zstdVersion = run("zstd", ["--version"])
    .toString()
    .match(/v[\d.]+/)?.[0];
  const xdeltaVersion = run("sh", ["-c", "xdelta3 -V 2>&1 || true"]).toString();
  return `bsdiff (Debian), xdelta3 ${xdeltaVersion.match(/version ([\d.]+)/)?.[1] ?? "?"}, zstd ${zstdVersion ?? "?"}`;
}

/** The extracted npm package of name@version (fetched with npm pack unless already cached). */
function release(set, version) {
  const dir = join(CACHE, `${set.label}-${version}`);
  if (!existsSync(join(dir, "package", "package.json"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    console.log(`fetching ${set.name}@${version} (npm pack)…`);
    const out = run("npm", ["pack", `${set.name}@${version}`, "--pack-destination", dir, "--json"], { cwd: dir });
    const [{ filename }] = JSON.parse(out.toString());
    run("tar", ["-xzf", join(dir, filename.replace(/^@/, "").replace("/", "-")), "-C", dir]);
  }
  return join(dir, "package");
}

/** The files of a release that make the package (path → bytes), and the folder they are relative to. */
function filesOf(set, version) {
  const root = join(release(set, version), set.folder);
  const files = set.only
    ? { [set.only]: readFileSync(join(root, set.only)) }
    : readFolder(root, { onWarning: (m) => console.error(`warning: ${m}`) });
  return { root, files };
}

const byPath = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** The uncompressed deterministic tar of exactly these files (once per release). */
function tarOf(set, version, root, files) {
  const out = join(work, `${set.label}-${version}.tar`);
  if (!existsSync(out)) {
    const list = join(work, `${set.label}-${version}.list`);
    writeFileSync(list, `${Object.keys(files).sort(byPath).join("\n")}\n`);
    run("tar", [...TAR_FLAGS, "-cf", out, "-C", root, "--no-recursion", "--verbatim-files-from", "-T", list]);
  }
  return out;
}

/** Sizes of the three reference deltas from oldTar to newTar. */
function references(oldTar, newTar) {
  const out = (tool) => join(work, `ref.${tool}`);
  run("bsdiff", [oldTar, newTar, out("bsdiff")]);
  run("xdelta3", ["-f", "-9", "-e", "-s", oldTar, newTar, out("xdelta3")]);
  run("zstd", ["-q", "-f", "-19", "--long=27", `--patch-from=${oldTar}`, newTar, "-o", out("zstd")]);
  return { bsdiff: size(out("bsdiff")), xdelta3: size(out("xdelta3")), zstd: size(out("zstd")) };
}

const size = (file) => statSync(file).size;

/** The workerd processes Miniflare started for this script (Linux /proc). */
function workerdPids() {
  const pids = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Resident memory figures of a process in bytes (VmRSS, VmHWM). */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** CPU seconds used so far by the workerd processes (utime + stime of /proc/<pid>/stat, 100 Hz ticks). */
function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

/** Bundles bench/delta-worker.ts for workerd; the zstd .wasm import stays a module of its own. */
async function bundleWorker() {
  const dir = join(work, "worker");
  await build({
    entryPoints: [join(ROOT, "bench", "delta-worker.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    external: ["node:*"],
    outdir: dir,
    logLevel: "error",
    plugins: [
      {
        name: "wasm-module",
        setup(b) {
          b.onResolve({ filter: /\.wasm$/ }, () => ({ path: "zstd.wasm", external: true }));
        },
      },
    ],
  });
  writeFileSync(join(dir, "zstd.wasm"), readFileSync(join(ROOT, "src", "vendor", "zstd", "zstd.wasm")));
  return dir;
}

function startWorkerd(dir) {
  return new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      logRequests: false,
      workers: [
        {
          name: "delta",
          modulesRoot: dir,
          modules: [
            { type: "ESModule", path: join(dir, "delta-worker.js") },
            // workerd takes the .wasm import as a compiled WebAssembly.Module, as in production.
            { type: "CompiledWasm", path: join(dir, "zstd.wasm") },
          ],
          compatibilityDate: "2026-10-01",
          compatibilityFlags: ["nodejs_compat"],
          r2Buckets: { BUCKET: "bench-delta" },
          queueProducers: { JOBS: { queueName: "bench-delta-jobs" } },
          // One job per batch, as the patch queue is configured; a failed job is not retried.
          queueConsumers: { "bench-delta-jobs": { maxBatchSize: 1, maxBatchTimeout: 0, maxRetries: 0 } },
        },
      ],
    }),
  );
}

/** Sends one job through the local Queue and waits for the Worker's stats in R2. */
async function roundTrip(queue, bucket, job) {
  const started = performance.now();
  await queue.send(job);
  for (;;) {
    const stats = await bucket.get(`stats/${job.id}.json`);
    if (stats !== null) {
      const result = JSON.parse(await stats.text());
      if (result.error) throw new Error(`job ${job.id} failed in workerd: ${result.error}`);
      return { result, ms: performance.now() - started };
    }
    if (performance.now() - started > JOB_TIMEOUT_MS)
      throw new Error(`job ${job.id}: no stats after ${JOB_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * One patch job, measured around it:
 *   - zstd_mem: the zstd module's linear memory after the job (zstd memoryBytes()): what the
 *     compressor needed at level 19 for the largest segment + dictionary so far (the isolate's one
 *     instance; wasm memory only grows, so it is the peak over this and all earlier jobs);
 *   - held: what the job holds at once in the isolate's JS heap beside it: both zips, both sets of
 *     unpacked files, the two streams createPatch/applyPatch build (about the unpacked size again)
 *     and the patch (an estimate from sizes, as the real job reports memoryBytes);
 *   - rss_peak: the workerd process's peak resident memory during the job less its resident memory
 *     just before (VmHWM after − VmRSS before; VmHWM is reset with clear_refs first when the kernel
 *     lets us, else it is VmHWM after − VmHWM before: growth beyond every earlier peak). It is the
 *     whole process: the isolate's heap and wasm memory, plus R2 and Queue storage in the same
 *     workerd, allocator slack and V8's garbage not yet collected, so it is an upper bound of what
 *     the job needs.
 */
async function measureJob(queue, bucket, job) {
  const pids = workerdPids();
  const pid = pids[0];
  let reset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    reset = true;
  } catch {
    // not allowed here: fall back to growth beyond the earlier peak
  }
  const before = memoryOf(pid);
  const cpu0 = cpuSeconds(pids);
  const { result, ms } = await roundTrip(queue, bucket, job);
  const cpuMs = (cpuSeconds(pids) - cpu0) * 1000;
  const after = memoryOf(pid);
  const rssPeak = after.hwm - (reset ? before.rss : before.hwm);
  return { result, ms, cpuMs, rssPeak, reset, processes: pids.length };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kib = (n) => `${(n / 1024).toFixed(1)}K`;
const mib = (n) => `${(n / 2 ** 20).toFixed(1)}M`;
const geomean = (values) => Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);

/** The device path: the patch applied to the base files with the SDK's pure-JS decoder, timed. */
async function applyInNode(patchBytes, base, target, targetFiles) {
  const baseFiles = base.pkg.files.map((f) => ({ path: f.path, bytes: base.files[f.path] }));
  const manifest = target.pkg.files;
  let out = await applyPatch(patchBytes, baseFiles, manifest, zstdDecompress); // warm-up
  const times = [];
  for (let i = 0; i < APPLY_RUNS; i++) {
    const t = performance.now();
    out = await applyPatch(patchBytes, baseFiles, manifest, zstdDecompress);
    times.push(performance.now() - t);
  }
  if (out.length !== target.pkg.files.length) throw new Error("applyPatch gave another number of files");
  for (const f of out) {
    if (!Buffer.from(f.bytes).equals(targetFiles[f.path])) throw new Error(`applyPatch in Node: ${f.path} differs`);
  }
  return median(times);
}

async function main() {
  const t0 = performance.now();
  const tools = ensureTools();
  const pairs = [];
  for (const set of SETS)
    for (let i = 1; i < set.versions.length; i++) pairs.push([set, set.versions[i - 1], set.versions[i]]);
  // Fetch first, so the timed part never waits on the network.
  for (const set of SETS) for (const v of set.versions) release(set, v);

  mf = startWorkerd(await bundleWorker());
  await mf.ready;
  const queue = await mf.getQueueProducer("JOBS", "delta");
  const bucket = await mf.getR2Bucket("BUCKET", "delta");
  // Does Date.now() advance during synchronous compute in this workerd? (In production it does not.)
  const probe = (await roundTrip(queue, bucket, { id: "probe", probe: true })).result.probe;
  const clockRuns = probe.dateMs > 0.5 * probe.performanceMs && probe.dateMs > 50;
  console.log(
    `updraft bench:delta — node ${process.version}, workerd via Miniflare on 127.0.0.1, zstd level from src/deps.ts PATCH_ZSTD_LEVEL, references: ${tools}`,
  );
  console.log(`  cache: ${CACHE} (npm pack + tar -xzf, fetched once)`);
  console.log(
    `  sets: vant-weapp dist/ (mini program), vue dist/vue.runtime.global.prod.js (one bundle), taro-components dist/ (cjs, esm, collection, components, hydrate, types, taro-components/p-<hash>.js chunks)`,
  );
  console.log(
    `  clock probe: ${probe.spins} spins took Date.now() ${probe.dateMs} ms, performance.now() ${probe.performanceMs.toFixed(0)} ms: ` +
      (clockRuns
        ? "Date.now() advances during compute here, so build = the job's own Date.now() deltas (R2 read → verified)"
        : "Date.now() stands still during compute here, so build = Node's time around the Queue round trip"),
  );
  console.log(
    "  columns: full = our zip of the target; patch = ours (default plan); bsdiff/xdelta3/zstd on the uncompressed tars; " +
      "build in workerd (cpu = workerd CPU over the round trip); zstd_mem = zstd linear memory; held = inputs held; " +
      "rss_peak = workerd peak RSS growth; apply = SDK applyPatch + pure-JS zstd in Node",
  );

  const ratios = [];
  /** Our frames alone (the patch less its container header) / best: what the compression itself does. */
  const frameRatios = [];
  const planRatios = PLANS.map(() => []);
  const zips = new Set();
  const misses = [];
  const loaded = new Map();
  const load = async (set, version) => {
    const key = `${set.label}@${version}`;
    if (!loaded.has(key)) {
      const { root, files } = filesOf(set, version);
      const pkg = packFiles(files);
      if (!zips.has(pkg.sha256)) {
        await bucket.put(`zips/${pkg.sha256}`, pkg.bytes);
        zips.add(pkg.sha256);
      }
      loaded.set(key, { root, files, pkg, sha256: pkg.sha256, manifestSha256: pkg.manifestSha256 });
    }
    return loaded.get(key);
  };
  const ref = (p) => ({ key: `zips/${p.sha256}`, sha256: p.sha256, manifestSha256: p.manifestSha256 });
  // One unreported job first, so every pair is measured on a warm isolate (zstd instantiated, code
  // compiled): a cold consumer's first job costs more time and RSS than the figures below.
  if (pairs.length > 0) {
    const [set, from, to] = pairs[0];
    const warm = { id: "warm-up", base: ref(await load(set, from)), target: ref(await load(set, to)) };
    await roundTrip(queue, bucket, warm);
  }
  for (const [n, [set, from, to]] of pairs.entries()) {
    const base = await load(set, from);
    const target = await load(set, to);
    const previous = pairs[n - 1];
    if (previous) loaded.delete(`${previous[0].label}@${previous[1]}`); // that base is done
    const refs = references(tarOf(set, from, base.root, base.files), tarOf(set, to, target.root, target.files));
    const best = Math.min(refs.bsdiff, refs.xdelta3, refs.zstd);
    const id = `${set.label}-${from}-${to}`;
    const job = await measureJob(queue, bucket, { id, base: ref(base), target: ref(target) });
    const s = job.result.stats;
    const patchBytes = new Uint8Array(await (await bucket.get(`patches/${id}`)).arrayBuffer());
    const applyMs = await applyInNode(patchBytes, base, target, target.files);
    // The container's own bytes: its tag and segment table (parsePatch gives the frames back with
    // zstd's 4-byte magic, which the container leaves out).
    const { frames } = parsePatch(patchBytes, streamLength(base.pkg.files), streamLength(target.pkg.files));
    const header = patchBytes.length - frames.reduce((n, f) => n + f.length - 4, 0);
    const ratio = s.patchBytes / best;
    ratios.push(ratio);
    frameRatios.push((s.patchBytes - header) / best);
    const buildMs = clockRuns ? s.totalMs : job.ms;
    if (ratio > 1.05) misses.push(`${id} (${ratio.toFixed(3)})`);
    console.log(
      `${set.label} ${from}→${to}: files=${Object.keys(target.files).length} full=${target.pkg.size} patch=${s.patchBytes} ` +
        `(header ${header}, ${s.segments} seg) bsdiff=${refs.bsdiff} xdelta3=${refs.xdelta3} zstd=${refs.zstd} | ` +
        `build=${buildMs.toFixed(0)}ms (build+verify ${s.createMs}; cpu=${job.cpuMs.toFixed(0)}ms, round trip ${job.ms.toFixed(0)}ms) ` +
        `zstd_mem=${mib(s.zstdMemoryBytes)} held=${mib(s.heldBytes)} rss_peak=${job.rssPeak < 0 ? "" : "+"}${mib(job.rssPeak)} | ` +
        `apply=${applyMs.toFixed(0)}ms | patch/full=${(s.patchBytes / target.pkg.size).toFixed(3)} ` +
        `frames vs best=${frameRatios.at(-1).toFixed(3)} vs best=${ratio.toFixed(3)}`,
    );
    for (const [k, { name, plan }] of PLANS.entries()) {
      const alt = await roundTrip(queue, bucket, { id: `${id}-plan-${k}`, base: ref(base), target: ref(target), plan });
      const a = alt.result.stats;
      planRatios[k].push(a.patchBytes / best);
      console.log(
        `    plan ${name} MiB: patch=${a.patchBytes} (${a.segments} seg) ${kib(a.patchBytes)} create=${a.createMs}ms ` +
          `zstd_mem=${mib(a.zstdMemoryBytes)} vs best=${(a.patchBytes / best).toFixed(3)}`,
      );
    }
  }
  for (const [k, { name }] of PLANS.entries()) {
    const worst = Math.max(...planRatios[k]);
    console.log(`plan ${name} MiB: geomean vs best=${geomean(planRatios[k]).toFixed(3)} worst=${worst.toFixed(3)}`);
  }
  const g = geomean(ratios);
  console.log(
    `frames only (patch less its header): geomean vs best=${geomean(frameRatios).toFixed(3)} worst=${Math.max(...frameRatios).toFixed(3)}`,
  );
  console.log(
    `targets (geomean < 1.0, no pair > 1.05): ${g < 1 ? "geomean met" : "geomean MISSED"}; ` +
      `${misses.length === 0 ? "no pair above 1.05" : `above 1.05: ${misses.join(", ")}`} ` +
      `(${pairs.length} pairs in ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  console.log(`geomean vs best=${g.toFixed(3)}`);
}

try {
  await main();
} finally {
  await mf?.dispose();
  rmSync(work, { recursive: true, force: true });
}
