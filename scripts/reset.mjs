// `npm run reset`: wipes the local state (D1/R2/KV/Durable Objects and the demo token) so the next
// `npm start` seeds a fresh demo. The local secrets stay. Refuses while a server uses the state:
// deleting its files under a running workerd breaks it (SQLITE_CANTOPEN on every admin call).
//   UPDRAFT_STATE_DIR  reset that state directory instead of the default one
import { rmSync } from "node:fs";
import { join, relative } from "node:path";
import { localPaths, lockHolder } from "./local.mjs";

const paths = localPaths();
const show = (p) => relative(process.cwd(), p) || ".";

const holder = await lockHolder(paths);
if (holder !== null) {
  const where = holder.port ? `http://127.0.0.1:${holder.port}` : "port unknown";
  const how =
    holder.why === "process"
      ? `Stop it first (Ctrl-C in its terminal, or kill ${holder.pid}), then run npm run reset again.`
      : `Its npm start (pid ${holder.pid}) is gone but a server still answers there: stop that wrangler dev, then run npm run reset again.`;
  console.error(
    `npm run reset: refused — an Updraft server (pid ${holder.pid}, ${where}) is using ${show(paths.persistDir)}. ${how}\n` +
      `(If no server is running, delete the lock file ${show(paths.lockFile)}.)`,
  );
  process.exit(1);
}

// Only what wrangler keeps under --persist-to (its `v3` folder: D1, R2, KV, Durable Objects, cache)
// and our own files, by name: UPDRAFT_STATE_DIR may point at a folder that holds other things too,
// and nothing else in it is ever deleted. The secrets stay.
const WRANGLER_STATE = ["v3"];
for (const name of WRANGLER_STATE) rmSync(join(paths.persistDir, name), { recursive: true, force: true });
for (const file of [paths.demoFile, paths.lockFile]) rmSync(file, { force: true });
console.log(
  `Local state wiped (${show(paths.persistDir)}, ${show(paths.demoFile)}); the next npm start seeds a fresh demo.`,
);
