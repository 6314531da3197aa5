// The demo seed (scripts/demo-seed.mjs) against a real local server: stopped after bootstrap, in the
// middle of the uploads and halfway through the release's review, then resumed, it ends in the full
// demo; run again it changes nothing; with its token lost it says so instead of pretending.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LocalServer,
  removeScratch,
  runWrangler,
  scratchDir,
  script,
  serverEnv,
  signedCheck,
  startLocalServer,
} from "./start-support";

const stateDir = scratchDir("seed-state");
let base = "";
let server: LocalServer | undefined;
// biome-ignore lint/suspicious/noExplicitAny: untyped .mjs modules
let seed: any;
let paths: { demoFile: string; secretsFile: string; persistDir: string };
let secrets: Record<string, string>;

class Stop extends Error {}
/** A seed that stops right after the named step, as Ctrl-C would. */
const stopAfter = (name: string) => async (step: string) => {
  if (step === name) throw new Stop(step);
};
const seedOptions = (afterStep?: (step: string) => Promise<void>) => ({
  bootstrapSecret: secrets.BOOTSTRAP_SECRET,
  demoFile: paths.demoFile,
  ...(afterStep ? { afterStep } : {}),
});
const demoFile = () => JSON.parse(readFileSync(paths.demoFile, "utf8")) as { token: string; complete: boolean };

async function get<T>(path: string, token: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

describe("the demo seed", () => {
  beforeAll(async () => {
    seed = await script("demo-seed.mjs");
    server = await startLocalServer(stateDir, [8795, 8799]);
    base = server.base;
    paths = server.paths;
    secrets = server.secrets;
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    removeScratch();
  }, 20_000);

  it("resumes wherever it was stopped and ends in the full demo", async () => {
    await expect(seed.seedDemo(base, seedOptions(stopAfter("bootstrap")))).rejects.toBeInstanceOf(Stop);
    // The token is on disk before anything else happens.
    const { token } = demoFile();
    expect(token).toMatch(/^upd_/);
    expect(demoFile().complete).toBe(false);

    await expect(seed.seedDemo(base, seedOptions(stopAfter("version demo-pay 1.1.0")))).rejects.toBeInstanceOf(Stop);
    await expect(seed.seedDemo(base, seedOptions(stopAfter("release in_review")))).rejects.toBeInstanceOf(Stop);
    const done = await seed.seedDemo(base, seedOptions());
    expect(done).toEqual({ token });
    expect(demoFile()).toMatchObject({ token, complete: true, workspaceId: expect.stringMatching(/^ws_/) });

    // The demo README describes: demo-wallet (test, prod); demo-pay (dsl) and demo-coupons (h5), each
    // with 1.0.0 and 1.1.0; demo-pay 1.1.0 in full release on prod with newCheckout on.
    const app = await get<{ key: string; environments: { name: string }[] }>("/v1/admin/apps/demo-wallet", token);
    expect(app.environments.map((e) => e.name).sort()).toEqual(["prod", "test"]);
    for (const [key, type] of [
      ["demo-pay", "dsl"],
      ["demo-coupons", "h5"],
    ]) {
      expect((await get<{ type: string }>(`/v1/admin/mini-programs/${key}`, token)).type).toBe(type);
      const versions = await get<{ items: { version: string }[] }>(`/v1/admin/mini-programs/${key}/versions`, token);
      expect(versions.items.map((v) => v.version).sort()).toEqual(["1.0.0", "1.1.0"]);
    }
    const releases = await get<{ items: { status: string; versionId: string; config: unknown }[] }>(
      "/v1/admin/releases?appId=demo-wallet&env=prod",
      token,
    );
    const v110 = await get<{ id: string }>("/v1/admin/mini-programs/demo-pay/versions/1.1.0", token);
    expect(releases.items).toHaveLength(1);
    expect(releases.items[0]).toMatchObject({ status: "full", versionId: v110.id });
    expect(JSON.stringify(releases.items[0]?.config)).toContain('"newCheckout":"on"');
    const { valid, result } = await signedCheck(`${base}/v1/check`, JSON.stringify(seed.DEMO_CHECK));
    expect(valid).toBe(true);
    expect(result).toMatchObject({ id: "demo-pay", action: "update", version: "1.1.0" });
  }, 60_000);

  it("run again on a complete demo, it makes no change", async () => {
    const before = await get<{ items: unknown[] }>("/v1/admin/audit-logs", demoFile().token);
    expect(await seed.seedDemo(base, seedOptions())).toEqual({ token: demoFile().token });
    // Even when not marked complete, every step finds its work done (lookups and idempotent replays).
    const { token } = demoFile();
    writeFileSync(paths.demoFile, JSON.stringify({ ...demoFile(), complete: false }));
    expect(await seed.seedDemo(base, seedOptions())).toEqual({ token });
    const after = await get<{ items: unknown[] }>("/v1/admin/audit-logs", token);
    expect(after.items).toEqual(before.items);
  }, 30_000);

  it("with its token expired (after 90 days), it gets a new admin token through the operator's recovery", async () => {
    const old = demoFile().token;
    const env = serverEnv({ CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true" });
    const expire = runWrangler(
      [
        "d1",
        "execute",
        "updraft",
        "--local",
        "--persist-to",
        paths.persistDir,
        "--command",
        "update api_tokens set expires_at = 1",
      ],
      { env },
    );
    expect(expire.status, expire.stderr).toBe(0);
    expect((await fetch(`${base}/v1/admin/apps`, { headers: { authorization: `Bearer ${old}` } })).status).toBe(401);
    const done = await seed.seedDemo(base, seedOptions());
    expect(done.token).toMatch(/^upd_/);
    expect(done.token).not.toBe(old);
    expect(demoFile().token).toBe(done.token);
    await get("/v1/admin/apps/demo-wallet", done.token);
  }, 60_000);

  it("with the token lost, it reports it (bootstrap works once) instead of seeding", async () => {
    rmSync(paths.demoFile);
    expect(await seed.seedDemo(base, seedOptions())).toEqual({ token: null, reason: "token-lost" });
    expect(existsSync(paths.demoFile)).toBe(false);
  }, 30_000);
});
