// End to end, as a publisher and a device would: against a real local server (wrangler dev on
// workerd, seeded like `npm start`), the `updraft` CLI (run as its bin) publishes a folder signed
// with the demo publisher key, creates a release, submits, approves, takes it to canary and sets a
// 100 % rollout; the SDK on the previous version checks, downloads, verifies and installs exactly the
// folder's files. After `release pause` the SDK is no longer offered it. Then examples/device.mjs
// plays a device against the same server.
import { createPublicKey } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@updraft/sdk";
import { fileStorage } from "@updraft/sdk/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServer, ROOT, removeScratch, run, scratchDir, script, startLocalServer } from "./start-support";

const stateDir = scratchDir("e2e-state");
const work = scratchDir("e2e-work");
let base = "";
let server: LocalServer | undefined;
let paths: { persistDir: string; secretsFile: string; demoFile: string; rootKeyFile: string; publisherKeyFile: string };
const configFile = join(work, "cli-config.json");

/** Runs the CLI's bin (Node 22 from node_modules/.bin, as npx would) with its config in the scratch dir. */
async function updraft(...args: string[]) {
  const res = await run(process.execPath, [join(ROOT, "packages/cli/bin/updraft.mjs"), ...args], {
    env: { ...process.env, UPDRAFT_CONFIG: configFile, UPDRAFT_SERVER: "", UPDRAFT_TOKEN: "", NO_COLOR: "1" },
    timeoutMs: 60_000,
  });
  if (res.code !== 0) throw new Error(`updraft ${args.join(" ")} → exit ${res.code}\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}
const updraftJson = async <T>(...args: string[]) => JSON.parse(await updraft("--json", ...args)) as T;

const publicKeyOf = (file: string) => createPublicKey(readFileSync(file)).export({ format: "jwk" }).x as string;

/** A device of the demo app pinning the local root key and the demo publisher key, on 1.1.0 bundled. */
function demoDevice(deviceId: string) {
  return createClient({
    baseUrl: base,
    appId: "demo-wallet",
    env: "prod",
    deviceId,
    device: { appVersion: "8.2.0" },
    rootKeys: [publicKeyOf(paths.rootKeyFile)],
    publisherKeys: [publicKeyOf(paths.publisherKeyFile)],
    bundled: { "demo-pay": { version: "1.1.0" } },
    storage: fileStorage(join(work, deviceId)),
  });
}

describe("publish with the CLI, install with the SDK", () => {
  beforeAll(async () => {
    server = await startLocalServer(stateDir, [8780, 8784]);
    base = server.base;
    paths = server.paths;
    const seed = await script("demo-seed.mjs");
    const seeded = await seed.seedDemo(base, {
      bootstrapSecret: server.secrets.BOOTSTRAP_SECRET,
      demoFile: paths.demoFile,
      publisherKeyFile: paths.publisherKeyFile,
    });
    await updraft("login", "--server", base, "--token", seeded.token);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    removeScratch();
  }, 20_000);

  it("the previous version checks, downloads, verifies and installs exactly the target's files; pause withdraws it", async () => {
    // The folder a publisher ships: nested paths, binary bytes.
    const dir = join(work, "demo-pay-1.5.0");
    mkdirSync(join(dir, "pages/home"), { recursive: true });
    const files: Record<string, Buffer> = {
      "index.js": Buffer.from('console.log("demo-pay 1.5.0");\n'),
      "app.json": Buffer.from('{"pages":["pages/home/index"]}\n'),
      "pages/home/index.js": Buffer.from("export default () => 'home';\n"),
      "assets/logo.bin": Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256)),
    };
    mkdirSync(join(dir, "assets"), { recursive: true });
    for (const [path, bytes] of Object.entries(files)) writeFileSync(join(dir, path), bytes);

    const publish = ["publish", dir, "--mini-program", "demo-pay", "--version", "1.5.0", "--compat", ">=8.0.0"];
    const version = await updraftJson<{ id: string; publisherKeyId: string }>(
      ...publish,
      "--key",
      paths.publisherKeyFile,
    );
    expect(version.publisherKeyId).toMatch(/^[0-9a-f]{16}$/);
    // The same bytes again: an idempotent success.
    await updraft(...publish, "--key", paths.publisherKeyFile);

    const release = await updraftJson<{ id: string; status: string }>(
      "release",
      "create",
      "--mini-program",
      "demo-pay",
      "--version",
      "1.5.0",
      "--app",
      "demo-wallet",
      "--env",
      "prod",
    );
    for (const step of ["submit", "approve", "canary"]) await updraft("release", step, release.id);
    // A canary without targeting reaches nobody: the rollout takes it to every device.
    await updraft("rollout", "set", release.id, "100");
    expect((await updraftJson<{ status: string }>("release", "show", release.id)).status).toBe("canary");

    // The device: previous version 1.1.0 (the demo's full release) shipped with the app.
    const client = () => demoDevice("e2e-device");
    const device = client();
    const answer = await device.check(["demo-pay"]);
    const [offer] = answer.results;
    expect(offer).toMatchObject({ action: "update", version: "1.5.0", releaseId: release.id });
    if (offer?.action !== "update") throw new Error("not offered");
    const installed = await device.install(offer);
    expect(installed).toMatchObject({ version: "1.5.0", releaseId: release.id, sequence: offer.sequence });
    for (const [path, bytes] of Object.entries(files)) {
      expect(Buffer.from((await device.readFile("demo-pay", path)) ?? []), path).toEqual(bytes);
    }
    expect(await device.readFile("demo-pay", "not-there.js")).toBeNull();
    // A fresh client on the same storage sees the same installed version (it is persisted).
    expect(await client().installed("demo-pay")).toMatchObject({ version: "1.5.0" });

    // Pause: a device still on 1.1.0 is no longer offered 1.5.0 (delivery changes reach checks within seconds).
    await updraft("release", "pause", release.id);
    const other = demoDevice("e2e-device-2");
    let action = "";
    for (let i = 0; i < 40; i++) {
      action = (await other.check(["demo-pay"])).results[0]?.action ?? "";
      if (action === "none") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(action).toBe("none");
  }, 120_000);

  it("examples/device.mjs plays a device: it installs the demo's release after verifying it", async () => {
    const device = await run(
      process.execPath,
      ["examples/device.mjs", "--server", base, "--device", "example-device", "--storage", join(work, "example")],
      { env: { ...process.env, UPDRAFT_STATE_DIR: stateDir }, timeoutMs: 60_000 },
    );
    expect(device.code, device.stderr).toBe(0);
    expect(device.stdout).toMatch(/^demo-pay: 1\.0\.0 \(bundled\)$/m);
    expect(device.stdout).toMatch(/^check: verified answer signed by local-dev \(key set v1\): update$/m);
    expect(device.stdout).toMatch(/^installed 1\.1\.0 from release rel_\w+ \(sequence \d+\)$/m);
    expect(device.stdout).toMatch(/^index\.js: console\.log\("demo-pay 1\.1\.0"\);$/m);
    // Run again: it checks from the version it installed, and nothing newer is live (1.5.0 is paused).
    const again = await run(
      process.execPath,
      ["examples/device.mjs", "--server", base, "--device", "example-device", "--storage", join(work, "example")],
      { env: { ...process.env, UPDRAFT_STATE_DIR: stateDir }, timeoutMs: 60_000 },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^demo-pay: 1\.1\.0 \(installed by the SDK\)$/m);
    expect(again.stdout).toMatch(/: none$/m);
  }, 120_000);
});
