// `npm run reset` (scripts/reset.mjs) refuses while the lock names a live server and proceeds on a
// stale lock; on a scratch state (UPDRAFT_STATE_DIR), with fake locks.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, removeScratch, run, scratchDir } from "./start-support";

/** A scratch state as `npm start` leaves it, with a lock naming `pid` and `port`. */
function state(lock: { pid: number; port: number }) {
  const dir = scratchDir("reset");
  mkdirSync(join(dir, "v3", "d1"), { recursive: true });
  writeFileSync(join(dir, "v3", "d1", "db.sqlite"), "");
  writeFileSync(join(dir, "secrets.env"), "BOOTSTRAP_SECRET=x\n");
  writeFileSync(join(dir, "demo.json"), '{"token":"upd_x","complete":true}\n');
  writeFileSync(join(dir, "server.json"), JSON.stringify({ ...lock, state: dir }));
  return dir;
}
const reset = (dir: string) =>
  run(process.execPath, ["scripts/reset.mjs"], { env: { ...process.env, UPDRAFT_STATE_DIR: dir } });

/** The id of a process that has exited. */
function deadPid() {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("npm run reset", () => {
  afterAll(removeScratch);

  it("refuses while the lock's process is alive, and wipes nothing", async () => {
    const dir = state({ pid: process.pid, port: await freePort(8790, 8799) });
    const result = await reset(dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`refused — an Updraft server \\(pid ${process.pid}, `));
    expect(result.stderr).toMatch(/Stop it first/);
    expect(readdirSync(dir).sort()).toEqual(["demo.json", "secrets.env", "server.json", "v3"]);
  });

  it("refuses while a server still answers /healthz on the lock's port, its npm start gone", async () => {
    const port = await freePort(8790, 8799);
    const healthz: Server = createServer((req, res) => res.end(req.url === "/healthz" ? "ok" : ""));
    await new Promise<void>((resolve) => healthz.listen(port, "127.0.0.1", resolve));
    try {
      const dir = state({ pid: deadPid(), port });
      const result = await reset(dir);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/is gone but a server still answers there/);
      expect(existsSync(join(dir, "v3"))).toBe(true);
    } finally {
      await new Promise((resolve) => healthz.close(resolve));
    }
  });

  it("proceeds on a stale lock (process gone, port silent): wipes the state, keeps the secrets", async () => {
    const dir = state({ pid: deadPid(), port: await freePort(8790, 8799) });
    const result = await reset(dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Local state wiped/);
    expect(readdirSync(dir)).toEqual(["secrets.env"]);
  });

  it("deletes only Updraft's own state in a state directory that holds other files too", async () => {
    const dir = state({ pid: deadPid(), port: await freePort(8790, 8799) });
    mkdirSync(join(dir, ".git"));
    mkdirSync(join(dir, "photos"));
    writeFileSync(join(dir, "important.txt"), "precious");
    const result = await reset(dir);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([".git", "important.txt", "photos", "secrets.env"]);
  });

  it("proceeds with no lock at all", async () => {
    const dir = scratchDir("reset-none");
    writeFileSync(join(dir, "demo.json"), "{}");
    const result = await reset(dir);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });
});
