#!/usr/bin/env node
// A device, played with the Updraft SDK against `npm start` (docs/sdk.md). It pins the local root key
// and the demo publisher key, starts on the demo-pay version "bundled with the app" (1.0.0), checks,
// and installs what it is offered after verifying everything; run it again and it checks from the
// version it installed. Usage (at the repository's root, with npm start running in another shell):
//
//   npm run device -- [--server http://127.0.0.1:8787] [--device device-1] [--user alice]
//                     [--mini-program demo-pay] [--storage .updraft/example-device/<device>]
//                     [--bundled 1.0.0] [--json]
//
// It needs Node >= 22.18 (the SDK's TypeScript sources run through Node's type stripping): `npm run`
// uses the repository's own Node 22, as does `npx node examples/device.mjs`.
// A real host app embeds the two public keys in its configuration; this example reads them from the
// key files npm start made (UPDRAFT_STATE_DIR as for npm start), which only a local demo may do.
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createClient, isUpdraftError, updateModePolicy } from "@updraft/sdk";
import { fileStorage } from "@updraft/sdk/node";

const { values: args } = parseArgs({
  options: {
    server: { type: "string", default: "http://127.0.0.1:8787" },
    device: { type: "string", default: "device-1" },
    user: { type: "string" },
    "mini-program": { type: "string", default: "demo-pay" },
    storage: { type: "string" },
    bundled: { type: "string", default: "1.0.0" },
    json: { type: "boolean", default: false },
  },
});

const stateDir = process.env.UPDRAFT_STATE_DIR ? resolve(process.env.UPDRAFT_STATE_DIR) : resolve(".updraft");
/** The raw public key (base64url) of a PEM private key file. */
const publicKeyOf = (file) => createPublicKey(readFileSync(join(stateDir, file))).export({ format: "jwk" }).x;
const say = (line) => {
  if (!args.json) console.log(line);
};

const mp = args["mini-program"];
const client = createClient({
  baseUrl: args.server,
  appId: "demo-wallet",
  env: "prod",
  deviceId: args.device,
  device: { appVersion: "8.2.0", platform: "android", userId: args.user ?? null },
  // The host app's pins: the root key that vouches for service keys, and the publisher's key.
  rootKeys: [publicKeyOf("root-key.pem")],
  publisherKeys: [publicKeyOf("publisher-key.pem")],
  bundled: { [mp]: { version: args.bundled } },
  // One storage per device: each keeps its own installed versions, failures and key set.
  storage: fileStorage(args.storage ?? join(stateDir, "example-device", args.device)),
});

try {
  const before = await client.installed(mp);
  say(
    `${mp}: ${before ? `${before.version} (${before.releaseId ? "installed by the SDK" : "bundled"})` : "not installed"}`,
  );
  const answer = await client.check([mp]);
  const result = answer.results[0];
  say(`check: verified answer signed by ${answer.keyId} (key set v${answer.keysetVersion}): ${result.action}`);
  let installed = before;
  if (result.action === "update" || result.action === "rollback") {
    // When to apply it, by its update mode: sync before opening, async in the background.
    const timing = updateModePolicy(result.updateMode, { installed: before !== null });
    say(`offered ${result.version} (${result.action}, update mode ${result.updateMode}: install ${timing})`);
    installed = await client.install(result);
    say(`installed ${installed.version} from release ${installed.releaseId} (sequence ${installed.sequence})`);
    const index = await client.readFile(mp, "index.js");
    if (index) say(`index.js: ${new TextDecoder().decode(index).trim()}`);
    // The host opened it: the launch is reported with the download and install events.
    await client.reportLaunch(mp, { ok: true });
  } else if (result.action === "removed") {
    await client.update(mp);
    installed = null;
    say(`${mp} was removed: its files are deleted`);
  }
  // Device events (docs/statistics.md) are sent in batches; send what is queued before exiting.
  await client.flushEvents();
  if (args.json) console.log(JSON.stringify({ action: result.action, installed }));
} catch (error) {
  if (!isUpdraftError(error)) throw error;
  // Every refusal leaves the installed version as it was; a failed version is reported next check.
  console.error(`refused: ${error.code}: ${error.message}`);
  process.exitCode = 1;
}
