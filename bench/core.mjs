// `npm run bench` (first part): the decision core in Node, nanoseconds per device check.
// Bundles the real src/ modules with esbuild into a temp dir and drives them directly: the snapshot
// is compiled by compileSnapshot (50 mini programs, each with 1.0.0 in full release and 3 canary
// releases of 5 rules; see bench/fixtures.mjs), list shards are built by the real buildShards
// layout from a 1,000,000-entry user allowlist and a device denylist, and the canary context is the
// real canaryContext(). Stand-in: its shard port is an in-memory map of the shards, kept as the
// Worker's isolate cache keeps them (sorted strings, see src/edge/list-content.ts), so what is timed
// is the core, not KV.
// Prints figures only; asserts nothing about time.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import {
  ALLOWLIST_SIZE,
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

const DEVICES = Number(process.env.BENCH_CORE_DEVICES ?? 2000);
/** Each of the two measurements runs whole passes over the device mix for about this long in total. */
const SECONDS = Number(process.env.BENCH_CORE_SECONDS ?? 4);
/**
 * Bytes walked between two checks in the "cold" measurement (4 MiB: well past this VM's 512 KB of
 * L2), standing in for the harness work that runs between two requests in workerd.
 */
const POLLUTE_BYTES = Number(process.env.BENCH_CORE_POLLUTE_KB ?? 4096) * 1024;

const work = mkdtempSync(join(tmpdir(), "updraft-core-"));
try {
  await build({
    stdin: {
      contents: [
        'export { decide } from "./src/domain/decide";',
        'export { compileSnapshot } from "./src/domain/compile-snapshot";',
        'export { buildShards, shardCountFor } from "./src/domain/allowlist-shards";',
        'export { bucketKeyFromHex } from "./src/domain/targeting/bucket";',
        'export { buildDeviceProfile } from "./src/domain/device-profile";',
        'export { canaryContext } from "./src/usecases/canary-context";',
        'export { sortedShard } from "./src/edge/list-content";',
      ].join("\n"),
      resolveDir: process.cwd(),
      loader: "ts",
      sourcefile: "bench-core-entry.ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile: join(work, "core.mjs"),
    logLevel: "warning",
  });
  await run(await import(pathToFileURL(join(work, "core.mjs")).href));
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function run(core) {
  const now = Date.now();
  const t0 = performance.now();
  const lists = {
    users: { id: "al_users", kind: "user", contentKey: "lc_users", text: allowlistText() },
    devices: { id: "al_devices", kind: "device", contentKey: "lc_devices", text: denylistText() },
  };
  const shards = new Map();
  for (const l of Object.values(lists)) {
    const exact = l.text.split("\n");
    l.shardCount = core.shardCountFor(exact.length);
    // As the Worker's list store keeps them: each shard body as one sorted string, binary-searched.
    shards.set(
      l.contentKey,
      core.buildShards(exact, l.shardCount).map((body) => core.sortedShard(body)),
    );
  }
  const snapshot = core.compileSnapshot(source(now, lists));
  // Admissions as the Worker's cached gate knows them once the window's cap is reached (closed): the
  // first TIME_WINDOW_CAP devices (in mix order) that asked are admitted, every later one is not.
  const admitted = new Set();
  let windowRelease;
  let closed = false;
  const deps = {
    lists: { getShard: async (contentKey, shard) => shards.get(contentKey)?.[shard] ?? core.sortedShard("") },
    bucketKey: core.bucketKeyFromHex(BUCKET_KEY),
    admissions: {
      known: (releaseId, deviceId) =>
        closed && releaseId === windowRelease?.releaseId
          ? admitted.has(deviceId)
            ? "admitted"
            : "not_admitted"
          : "unknown",
    },
  };
  const geo = { country: "CN", region: "Zhejiang", city: "Hangzhou" };
  const bodies = deviceMix(DEVICES);
  const devices = bodies.map((b) => ({
    body: b,
    identity: { profile: core.buildDeviceProfile(b, geo, null), ids: { userId: b.userId, deviceId: b.deviceId } },
    mps: b.miniPrograms.map((m) => snapshot.miniPrograms[m.id]),
    queries: b.miniPrograms.map((m) => ({ appVersion: b.appVersion, installed: m.version, failed: [] })),
  }));
  windowRelease = snapshot.miniPrograms[mpKey(0)].releases.find((r) => r.version === "1.3.0");
  const setup = ((performance.now() - t0) / 1000).toFixed(1);

  for (const d of devices) {
    d.canary = await core.canaryContext(deps, snapshot, d.mps, d.identity, now);
    for (let i = 0; i < d.mps.length; i++) {
      const decision = core.decide(d.mps[i], d.queries[i], d.canary.ctx);
      if (decision.pendingAdmission === windowRelease && admitted.size < TIME_WINDOW_CAP) admitted.add(d.body.deviceId);
    }
  }
  closed = true;
  for (const d of devices) d.canary = await core.canaryContext(deps, snapshot, d.mps, d.identity, now);

  const asked = devices[0]?.mps.length ?? 0;
  const mix = describeMix(core, devices);
  console.log(
    `updraft core bench: node ${process.version}, ${MINI_PROGRAMS} mini programs × (1 full + 3 canary releases × 5 rules), ` +
      `allowlist ${ALLOWLIST_SIZE.toLocaleString("en")} user ids in ${lists.users.shardCount} shards, denylist ${DENYLIST_SIZE} device ids, ` +
      `${DEVICES.toLocaleString("en")} devices × ${asked} mini programs per check (setup ${setup} s)`,
  );
  console.log(`  mix: ${mix}`);

  // 1. decide() only: the canary context of each device is prepared (shards in hand, admissions known).
  const decidePass = () => {
    let sink = 0;
    for (const d of devices) {
      // A check starts with no rule outcomes (the per-check memo of shared rules).
      d.canary.ctx.ruleMatches = new Map();
      for (let i = 0; i < d.mps.length; i++) sink += core.decide(d.mps[i], d.queries[i], d.canary.ctx).reason.length;
    }
    return sink;
  };
  // 2. The whole synchronous-core part of a check: device profile, canaryContext (list shard lookups
  //    through the in-memory port), admissions the cache knows, decide() per mini program.
  const checkPass = async () => {
    let sink = 0;
    for (const d of devices) {
      const profile = core.buildDeviceProfile(d.body, geo, null);
      d.canary = await core.canaryContext(deps, snapshot, d.mps, { profile, ids: d.identity.ids }, now);
      for (let i = 0; i < d.mps.length; i++) sink += core.decide(d.mps[i], d.queries[i], d.canary.ctx).reason.length;
    }
    return sink;
  };
  // 3. The check with the CPU caches cold: POLLUTE_BYTES are walked before each check, and only the
  //    check itself is timed (the pass returns the nanoseconds spent in checks).
  const junk = new Float64Array(Math.max(8, POLLUTE_BYTES / 8));
  let walked = 0;
  const coldCheckPass = async () => {
    let ns = 0n;
    for (const d of devices) {
      for (let i = 0; i < junk.length; i += 8) walked += junk[i] += 1; // one touch per 64-byte line
      const t0 = process.hrtime.bigint();
      const profile = core.buildDeviceProfile(d.body, geo, null);
      d.canary = await core.canaryContext(deps, snapshot, d.mps, { profile, ids: d.identity.ids }, now);
      for (let i = 0; i < d.mps.length; i++) walked += core.decide(d.mps[i], d.queries[i], d.canary.ctx).reason.length;
      ns += process.hrtime.bigint() - t0;
    }
    return Number(ns);
  };
  // Alternated in two rounds, so drift in the machine's load hits all alike; the median pass is reported.
  const passes = { decide: [], check: [], cold: [] };
  for (let round = 0; round < 2; round++) {
    passes.decide.push(...(await measure(decidePass)));
    passes.check.push(...(await measure(checkPass)));
    if (POLLUTE_BYTES > 0) passes.cold.push(...(await measure(coldCheckPass, true)));
  }
  const report = (name, perCheck, times) => {
    console.log(
      `${name}: ${fmt(perCheck)} ns/check ${fmt(perCheck / asked)} ns/decision ` +
        `(median of ${times.length} passes over the ${DEVICES.toLocaleString("en")} devices)`,
    );
  };
  report("core decide", median(passes.decide) / DEVICES, passes.decide);
  report("core check (profile + canaryContext + decide)", median(passes.check) / DEVICES, passes.check);
  if (POLLUTE_BYTES > 0 && walked > 0) {
    const label = `core check, caches cold (${POLLUTE_BYTES / 1024} KiB walked before each check, not timed)`;
    report(label, median(passes.cold) / DEVICES, passes.cold);
  }
}

function source(now, lists) {
  const miniPrograms = [];
  const versions = [];
  const releases = [];
  let seq = 0;
  for (let m = 0; m < MINI_PROGRAMS; m++) {
    const id = `mp_${m}`;
    miniPrograms.push({ id, key: mpKey(m), type: "dsl", origin: "workspace", minUsableVersion: null, config: {} });
    for (const v of VERSIONS) {
      const sha256 = `${m}-${v}`.padEnd(64, "0");
      versions.push({
        id: `ver_${m}_${v}`,
        miniProgramId: id,
        version: v,
        sha256,
        size: 1024,
        compat: COMPAT,
        publisherSignature: null,
        deleted: false,
      });
    }
    const release = (version, status, targeting) => ({
      id: `rel_${m}_${version}`,
      versionId: `ver_${m}_${version}`,
      seq: ++seq,
      status,
      wentFull: status === "full",
      rollback: false,
      updateMode: "async",
      config: {},
      targeting,
    });
    releases.push(release("1.0.0", "full", null));
    for (const c of canaryReleases(m, { userList: lists.users.id, deviceList: lists.devices.id, now })) {
      releases.push(release(c.version, "canary", c.targeting));
    }
  }
  return {
    appKey: "bench-app",
    env: "prod",
    version: 1,
    builtAt: now,
    miniPrograms,
    versions,
    releases,
    lists: Object.values(lists).map((l) => ({
      id: l.id,
      kind: l.kind,
      contentKey: l.contentKey,
      shardCount: l.shardCount,
      regexEntries: [],
    })),
  };
}

/** A one-line summary of what the mix decides: actions, offered versions, targeting reasons. */
function describeMix(core, devices) {
  const counts = new Map();
  const bump = (k) => counts.set(k, (counts.get(k) ?? 0) + 1);
  for (const d of devices) {
    for (let i = 0; i < d.mps.length; i++) {
      const decision = core.decide(d.mps[i], d.queries[i], d.canary.ctx, true);
      bump(decision.action === "none" ? `none:${decision.reason}` : `${decision.action}:${decision.release.version}`);
      for (const t of decision.trace) if (t.targeting) bump(t.targeting.reason);
    }
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}=${n}`)
    .join(" ");
}

/** Nanoseconds of each timed pass, after one warm-up pass: at least 3, for about SECONDS / 2. */
/** Times of repeated passes (after one warm-up); `selfTimed` passes return their own nanoseconds. */
async function measure(pass, selfTimed = false) {
  await pass();
  const times = [];
  const deadline = process.hrtime.bigint() + BigInt(Math.round((SECONDS / 2) * 1e9));
  while (times.length < 3 || process.hrtime.bigint() < deadline) {
    const t0 = process.hrtime.bigint();
    const own = await pass();
    times.push(selfTimed ? own : Number(process.hrtime.bigint() - t0));
  }
  return times;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function fmt(ns) {
  return ns >= 100 ? Math.round(ns).toLocaleString("en") : ns.toFixed(1);
}
