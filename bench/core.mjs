// `npm run bench` (first part): the decision core in Node, nanoseconds per device check.
// Bundles the real src/ modules with esbuild into a temp dir and drives them directly: the snapshot
// is compiled by compileSnapshot (50 mini programs, each with 1.0.0 in full release and 3 canary
// releases of 5 rules; see bench/fixtures.mjs), list shards are built by the real buildShards
// layout from a 1,000,000-entry user allowlist and a device denylist, and the canary context is the
// real canaryContext(). Stand-in: its shard port is an in-memory map of the shards, kept as the
// Worker's isolate cache keeps them (sorted strings, see src/edge/list-content.ts), so what is timed
// is the core, not KV.
// Then (`regex` line) the worst accepted regex configuration: see regexWorstCase below.
// Prints figures only; asserts nothing about time. BENCH_CORE_REGEX_ONLY=1 runs only the regex case.
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
        'export { snapshotRegexCost } from "./src/domain/compile-snapshot";',
        'export { parseEntries } from "./src/domain/allowlist-shards";',
        'export { compileTargeting } from "./src/domain/targeting/evaluate";',
        'export * from "./src/domain/targeting/rules";',
        'export { MAX_LIST_REGEX_COST, MAX_REGEX_ENTRIES } from "./src/domain/targeting/allowlist";',
        'export { CheckRecorder } from "./src/edge/stats-recorder";',
        'export { createKeyedHash } from "./src/domain/targeting/bucket";',
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
  const core = await import(pathToFileURL(join(work, "core.mjs")).href);
  if (process.env.BENCH_CORE_REGEX_ONLY !== "1") await run(core);
  regexWorstCase(core);
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
  // 4. What statistics add to a check (docs/statistics.md): CheckRecorder.observe, as the Worker calls
  //    it after answering: the device hash, the offered releases, the installed version of every asked
  //    mini program, and a sample entry (worst case: every device under the sample threshold).
  const offeredOf = devices.map((d) => {
    const offered = [];
    for (let i = 0; i < d.mps.length; i++) {
      const decision = core.decide(d.mps[i], d.queries[i], d.canary.ctx);
      if (decision.action === "update" || decision.action === "rollback") offered.push(decision.release.releaseId);
    }
    return offered;
  });
  const key = core.bucketKeyFromHex("0f0e0d0c0b0a09080706050403020100");
  const device = core.createKeyedHash(key, "updraft:device");
  const user = core.createKeyedHash(key, "updraft:user");
  const hashes = { device, user, event: (a, b) => device(`${a}\u0000${b}`) };
  const queue = { sendBatch: async () => undefined };
  // Its flush timer (0 ms) fires only between measurements: a pass never yields to timers.
  const recorder = new core.CheckRecorder(queue, hashes, async () => 2 ** 32, 0);
  const observePass = () => {
    let sink = 0;
    for (let j = 0; j < devices.length; j++) {
      const d = devices[j];
      const b = d.body;
      recorder.observe(b.appId, b.env, b.deviceId, b.userId, d.identity.profile, b.miniPrograms, offeredOf[j], now);
      sink++;
    }
    return sink;
  };
  const observed = [];
  for (let round = 0; round < 2; round++) {
    observed.push(...(await measure(observePass)));
    await recorder.flush();
  }
  report("stats: CheckRecorder.observe per check", median(observed) / DEVICES, observed);
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

// ---- regex: the worst accepted configuration ----------------------------------------------------

/**
 * Pattern families that cost re2js the most time per unit of regex cost on adversarial subjects
 * (measured: exponential-DFA patterns, which defeat the lazy DFA, nested `.*`, many optional
 * repetitions, Unicode classes, case-insensitive alternations). `make(i, k)` is distinct per `i`
 * (so no two patterns share compiled state) and grows with `k`; `subject(rand)` is a 128-character
 * value the family scans without matching.
 */
function regexFamilies() {
  // Ends every pattern: a class (of astral characters) no subject here holds, too large for the
  // prefilter to rule out, so every pattern is run over the whole subject and never matches.
  const T = "[\\x{10000}-\\x{10FFFF}]";
  return [
    { name: "(a|b)*a[ab]{k}T", make: (k) => `(?:a|b)*a[ab]{${k}}${T}`, alphabet: "ab" },
    { name: ".?{k}T", make: (k) => `${".?".repeat(k)}${T}`, alphabet: "abcdefgh" },
    { name: "(.*a){k}T", make: (k) => `(?:.*a){${k}}${T}`, alphabet: "abc" },
    { name: "(a?){k}a{k}T", make: (k) => `(?:a?){${k}}a{${k}}${T}`, alphabet: "a" },
    { name: "\\p{L}{k}T", make: (k) => `\\p{L}{1,${k}}${T}`, alphabet: "abcdéfgh" },
    { name: "(\\w+\\s?){k}T", make: (k) => `(?:\\w+\\s?){1,${k}}${T}`, alphabet: "ab c" },
    {
      name: "word|…{k}T",
      make: (k) => `(?:${Array.from({ length: k }, (_, j) => `sams${j}|huaw${j}`).join("|")})${T}`,
      alphabet: "samhuw0123",
    },
  ];
}

function regexWorstCase(core) {
  const T = core.MAX_TARGET_REGEX_COST;
  const budgets = {
    pattern: core.MAX_PATTERN_REGEX_COST,
    rule: core.MAX_RULE_REGEX_COST,
    release: core.MAX_RELEASE_REGEX_COST,
    list: core.MAX_LIST_REGEX_COST,
    target: T,
  };
  const costOf = (p, ci = false) => {
    const c = core.compileRegex(p, ci);
    return c.ok ? c.cost : Number.POSITIVE_INFINITY;
  };
  const CATCH_ALL = "[\\s\\S]"; // the last value of every rule matches, so the check goes on to the next rule
  const catchAllCost = costOf(CATCH_ALL);
  const results = [];
  for (const family of regexFamilies()) {
    for (const size of ["max", "small"]) {
      // The largest k whose pattern fits the per-pattern budget, or a small one (many cheap patterns).
      let k = 1;
      while (k < 200 && costOf(family.make(k + 1)) <= (size === "max" ? budgets.pattern : 40)) k++;
      const next = () => family.make(k);
      // Lists: as many as the target takes (a third of it), each filled to its budget, referenced by the releases.
      const lists = [];
      let listCost = 0;
      while (listCost + budgets.list <= T / 3 && lists.length < 40) {
        const entries = [];
        let c = 0;
        while (entries.length < core.MAX_REGEX_ENTRIES) {
          const p = next();
          const pc = costOf(p);
          if (c + pc > budgets.list) break;
          entries.push(p);
          c += pc;
        }
        if (entries.length === 0) break;
        const parsed = core.parseEntries(entries.map((e) => `re:${e}`).join("\n"));
        if (!parsed.ok) throw new Error(`bench list refused: ${JSON.stringify(parsed.errors[0])}`);
        lists.push({ id: `al_rx${lists.length}`, kind: lists.length % 2 ? "user" : "device", regex: entries, cost: c });
        listCost += c;
      }
      // Releases (one canary per mini program, so a check evaluates each): rules filled to the budgets.
      const releases = [];
      let total = listCost;
      let listAt = 0;
      while (total < T && releases.length < 200) {
        let room = Math.min(budgets.release, T - total);
        const refs = [];
        while (listAt < lists.length && lists[listAt].cost <= room) {
          const l = lists[listAt++];
          refs.push({ kind: l.kind, listId: l.id });
          room -= l.cost;
        }
        const rules = [];
        while (rules.length < core.MAX_RULES && room >= catchAllCost) {
          const values = [];
          let c = 0;
          const cap = Math.min(budgets.rule, room) - catchAllCost;
          while (values.length < core.MAX_VALUES_PER_RULE - 1) {
            const p = next();
            const pc = costOf(p);
            if (c + pc > cap) break;
            values.push(p);
            c += pc;
          }
          values.push(CATCH_ALL);
          c += catchAllCost;
          // Distinct attributes: no two rules are identical, so none is shared (interned) by a check.
          rules.push({ attribute: `custom:r${releases.length}x${rules.length}`, operator: "regex", values });
          room -= c;
          if (values.length === 1) break;
        }
        const targeting = {
          denylists: refs.filter((r) => r.kind === "device"),
          allowlists: refs.filter((r) => r.kind === "user"),
          rules,
          percentage: { basisPoints: 10000 },
        };
        const compiled = core.compileTargeting(targeting);
        if (!compiled.ok) throw new Error(`bench targeting refused: ${JSON.stringify(compiled.errors[0])}`);
        const used =
          core.rulesRegexCost(compiled.targeting.rules) +
          refs.reduce((a, r) => a + lists.find((l) => l.id === r.listId).cost, 0);
        if (used === 0) break;
        releases.push(targeting);
        total += used - refs.reduce((a, r) => a + lists.find((l) => l.id === r.listId).cost, 0);
      }
      const snapshot = core.compileSnapshot(regexSource(releases, lists));
      const cost = core.snapshotRegexCost(snapshot);
      if (cost > T) throw new Error(`bench configuration over the target budget: ${cost}`);
      const patterns =
        lists.reduce((a, l) => a + l.regex.length, 0) +
        releases.reduce((a, r) => a + r.rules.reduce((b, x) => b + x.values.length, 0), 0);
      const attributes = releases.flatMap((r) => r.rules.map((x) => x.attribute.slice(7)));
      const timing = timeRegexChecks(core, snapshot, family.alphabet, attributes);
      results.push({
        family: `${family.name} k=${k}`,
        ...timing,
        cost,
        patterns,
        releases: releases.length,
        lists: lists.length,
      });
    }
  }
  results.sort((a, b) => b.median - a.median);
  for (const r of results) {
    console.log(
      `  regex ${r.family.padEnd(22)} cost ${r.cost}/${T} in ${r.releases} releases + ${r.lists} lists, ${r.patterns} patterns: ` +
        `check median ${r.median.toFixed(2)} ms, max ${r.max.toFixed(2)} ms; first check (compiles) ${r.first.toFixed(1)} ms`,
    );
  }
  const worst = results[0];
  const slowest = Math.max(...results.map((r) => r.max));
  console.log(
    `regex worst_check_ms=${worst.median.toFixed(2)} target_ms=20 (median CPU ms of the worst family, ${worst.family}; ` +
      `slowest single check ${slowest.toFixed(2)} ms; budgets in regex cost units: ${JSON.stringify(budgets)})`,
  );
}

function regexSource(releases, lists) {
  const miniPrograms = [];
  const versions = [];
  const out = [];
  releases.forEach((targeting, m) => {
    const id = `mp_rx${m}`;
    miniPrograms.push({ id, key: `rx-${m}`, type: "dsl", origin: "workspace", minUsableVersion: null, config: {} });
    for (const v of ["1.0.0", "1.1.0"]) {
      versions.push({
        id: `ver_rx${m}_${v}`,
        miniProgramId: id,
        version: v,
        sha256: "0".repeat(64),
        size: 1,
        compat: COMPAT,
        publisherSignature: null,
        deleted: false,
      });
    }
    out.push({
      id: `rel_rx${m}`,
      versionId: `ver_rx${m}_1.1.0`,
      seq: m + 1,
      status: "canary",
      wentFull: false,
      rollback: false,
      updateMode: "async",
      config: {},
      targeting,
    });
  });
  return {
    appKey: "bench-regex",
    env: "prod",
    version: 1,
    builtAt: Date.now(),
    miniPrograms,
    versions,
    releases: out,
    lists: lists.map((l) => ({
      id: l.id,
      kind: l.kind,
      contentKey: `lc_${l.id}`,
      shardCount: 1,
      regexEntries: l.regex,
    })),
  };
}

/** Checks with fresh adversarial 128-character attributes and ids each time: CPU ms per check. */
function timeRegexChecks(core, snapshot, alphabet, attributes) {
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const text = () => Array.from({ length: 128 }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
  const empty = core.sortedShard("");
  const deps = {
    lists: { getShard: async () => empty, cachedShard: () => empty },
    bucketKey: core.bucketKeyFromHex(BUCKET_KEY),
    admissions: { known: () => "unknown" },
  };
  const mps = Object.values(snapshot.miniPrograms);
  const query = { appVersion: "8.0.0", installed: "1.0.0", failed: [] };
  const check = () => {
    const custom = {};
    for (const a of attributes) custom[a] = text();
    const profile = {
      city: null,
      region: null,
      country: null,
      brand: null,
      model: null,
      network: null,
      osName: null,
      osVersion: null,
      appVersion: "8.0.0",
      language: null,
      custom,
    };
    // CPU time of this process (user + system), not wall time: other work on a shared machine does not count.
    const c0 = process.cpuUsage();
    const parts = core.canaryContext(
      deps,
      snapshot,
      mps,
      { profile, ids: { userId: text(), deviceId: text() } },
      Date.now(),
    );
    if (parts instanceof Promise) throw new Error("bench: shards are all cached");
    let offered = 0;
    for (const mp of mps) if (core.decide(mp, query, parts.ctx).action !== "none") offered++;
    const used = process.cpuUsage(c0);
    const ms = (used.user + used.system) / 1000;
    if (offered !== mps.length)
      throw new Error(`bench: ${offered} of ${mps.length} canaries offered (every rule must be evaluated)`);
    return ms;
  };
  const first = check();
  for (let i = 0; i < 5; i++) check();
  const times = Array.from({ length: 40 }, check);
  return { first, median: median(times), max: Math.max(...times) };
}
