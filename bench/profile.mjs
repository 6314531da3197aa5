// Optional CPU profiling of a Worker under load (BENCH_PROFILE=<dir> npm run bench): Miniflare's
// inspector speaks the Chrome DevTools Protocol; the V8 sampling profiler of the Worker's isolate is
// started and stopped around a load run, the profile is written as a .cpuprofile (open it in Chrome
// DevTools or speedscope) and summarized by self and inclusive time.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A Chrome DevTools Protocol session with Miniflare worker `name`'s isolate: `send(method, params)`
 * answers with the result, or rejects after `timeoutMs`; `close()` ends the session.
 */
export async function connectInspector(mf, name, timeoutMs = 10_000) {
  const inspector = (await mf.getInspectorURL()).toString().replace(/^ws/, "http");
  const targets = await (await fetch(new URL("/json/list", inspector))).json();
  const target = targets.find((t) => t.id === `core:user:${name}`);
  if (!target) throw new Error(`no inspector target for worker ${name}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("inspector connection failed"));
  });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data));
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method}: no answer in ${timeoutMs / 1000} s`)), timeoutMs);
      const settle = (f) => (value) => {
        clearTimeout(timer);
        f(value);
      };
      pending.set(++id, { resolve: settle(resolve), reject: settle(reject) });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** Starts the sampling profiler of Miniflare worker `name`; the returned function stops it. */
export async function startProfile(mf, name, intervalMicros = 200) {
  // A profile run lasts longer than any one answer wait of the session.
  const { send, close } = await connectInspector(mf, name, 600_000);
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: intervalMicros });
  await send("Profiler.start");
  return async () => {
    const { profile } = await send("Profiler.stop");
    close();
    return profile;
  };
}

const label = (frame) => {
  const file = frame.url.split("/").pop() || "";
  return `${frame.functionName || "(anonymous)"}${file ? ` ${file}:${frame.lineNumber + 1}` : ""}`;
};

/** Writes the profile to `dir` and prints the top functions by self time and by inclusive time. */
export function summarize(profile, dir, name, top = 25) {
  const file = join(dir, `${name}.cpuprofile`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const sampled = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const s = profile.samples[i];
    sampled.set(s, (sampled.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  let idle = 0;
  for (const [nodeId, micros] of sampled) {
    total += micros;
    const node = nodes.get(nodeId);
    if (node.callFrame.functionName === "(idle)") idle += micros;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + micros);
    const seen = new Set();
    for (let cur = nodeId; cur !== undefined; cur = parent.get(cur)) {
      const k = label(nodes.get(cur).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + micros);
    }
  }
  const busy = total - idle;
  const pct = (v) => `${((v / busy) * 100).toFixed(1).padStart(5)}%`;
  const rows = (m) =>
    [...m]
      .filter(([k]) => !k.startsWith("(root)") && !k.startsWith("(idle)"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `    ${pct(v)}  ${k}`)
      .join("\n");
  console.log(
    `  profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, isolate busy ${((busy / total) * 100).toFixed(0)} %; shares of busy time`,
  );
  console.log(`  self:\n${rows(self)}`);
  console.log(`  inclusive:\n${rows(inclusive)}`);
}
