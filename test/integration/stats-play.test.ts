// 2,000 synthetic devices play through the SDK over HTTP against the Worker with its real local
// Queue, Durable Objects and D1: each checks, downloads and installs a canary or the full release,
// reports its launches, and flushes its events. The release statistics then add up exactly to what
// the devices did, and the audience estimate of a proposed targeting is exact (fewer devices than the
// sample holds) and agrees with the known population.
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createClient, type FetchLike, fetchHttp, memoryStorage } from "../../packages/sdk/src/index.ts";
import { canaryOverFull, createApp, createMiniProgram, expectJson } from "../support/admin-factories";
import { publicKeyOf, TEST_SEEDS } from "../support/trust";
import { BASE, call, makeWorkspace } from "../support/workspace";

const DEVICES = 2000;
const CONCURRENCY = 25;

const fetchThrough = (url: string, init: Parameters<FetchLike>[1]): Promise<Response> =>
  exports.default.fetch(
    new Request(url, { method: init.method, headers: init.headers, ...(init.body ? { body: init.body } : {}) }),
  );

let token: string;
let appKey: string;
let mp: { id: string; key: string };
let full: { id: string };
let canary: { id: string };

/** Device i: Android when even; in the canary (brand "acme") when i % 5 === 0; launch fails when i % 20 === 1. */
const android = (i: number) => i % 2 === 0;
const acme = (i: number) => i % 5 === 0;
const launchFails = (i: number) => i % 20 === 1;

beforeAll(async () => {
  token = (await makeWorkspace()).token;
  appKey = (await createApp(token)).key;
  mp = await createMiniProgram(token);
  ({ full, canary } = await canaryOverFull(
    token,
    { miniProgram: mp.id, appKey, env: "prod" },
    { rules: [{ attribute: "brand", operator: "include", values: ["acme"] }] },
  ));
}, 120_000);

async function play(i: number): Promise<void> {
  const client = createClient({
    baseUrl: BASE,
    appId: appKey,
    env: "prod",
    deviceId: `player-${i}`,
    device: { platform: android(i) ? "android" : "ios", brand: acme(i) ? "acme" : "other", osVersion: "14" },
    rootKeys: [publicKeyOf(TEST_SEEDS.root)],
    publisherKeys: [],
    allowUnsigned: true,
    storage: memoryStorage(),
    http: fetchHttp(fetchThrough),
    sleep: async () => undefined,
    events: { flushIntervalMs: 0 },
  });
  const outcome = await client.update(mp.key);
  expect(outcome.action).toBe("update");
  expect(await client.reportLaunch(mp.key, launchFails(i) ? { ok: false, errorCode: "CRASH" } : { ok: true })).toBe(
    true,
  );
  await client.flushEvents();
  expect((await client.eventStats()).queued).toBe(0);
}

type Totals = Record<string, number | null>;
const totals = async (releaseId: string): Promise<Totals> =>
  (await expectJson<{ totals: Totals }>(await call(`/v1/admin/releases/${releaseId}/stats`, { token }), 200)).totals;

describe(`${DEVICES} devices through the SDK`, () => {
  it("add up exactly in the release statistics", async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < DEVICES) await play(next++);
      }),
    );
    const inCanary = Array.from({ length: DEVICES }, (_, i) => i).filter(acme);
    const expected = (ids: number[]) => ({
      offered: ids.length,
      download_ok: ids.length,
      download_failed: 0,
      install_ok: ids.length,
      install_failed: 0,
      launch_ok: ids.filter((i) => !launchFails(i)).length,
      launch_failed: ids.filter(launchFails).length,
      rolled_back: 0,
      attempts: ids.length,
      failures: ids.filter(launchFails).length,
    });
    const others = Array.from({ length: DEVICES }, (_, i) => i).filter((i) => !acme(i));
    await vi.waitFor(
      async () => {
        expect(await totals(canary.id)).toMatchObject(expected(inCanary));
        expect(await totals(full.id)).toMatchObject(expected(others));
      },
      { timeout: 30_000, interval: 250 },
    );
  }, 300_000);

  it("estimates a wider targeting exactly from the sample of every device seen", async () => {
    type Estimate = { sampled: number; exact: boolean; current: { devices: number }; proposed: { devices: number } };
    const e = await vi.waitFor(
      async () => {
        const body = await expectJson<Estimate>(
          await call(`/v1/admin/releases/${canary.id}/estimate`, {
            method: "POST",
            token,
            json: { targeting: { rules: [{ attribute: "osName", operator: "include", values: ["Android"] }] } },
          }),
          200,
        );
        if (body.sampled < DEVICES) throw new Error(`sampled ${body.sampled}`);
        return body;
      },
      { timeout: 30_000, interval: 250 },
    );
    expect(e.exact).toBe(true);
    expect(e.current.devices).toBe(DEVICES / 5);
    expect(e.proposed.devices).toBe(DEVICES / 2);
  });
});
