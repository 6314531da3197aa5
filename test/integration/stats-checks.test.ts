// What checks add to statistics, end to end on the real local Queue and Durable Objects: releases
// offered (counts and distinct devices), the installed versions devices report per hour, and the
// audience sample the estimate reads, which answers within its standard error on a known population.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { canaryOverFull, createApp, createMiniProgram, expectJson, expectProblem } from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";

let token: string;
let appKey: string;
let mp: { id: string; key: string };
let full: { id: string };
let canary: { id: string };

/** 400 devices: half on Android, a quarter with brand "acme". */
const DEVICES = Array.from({ length: 400 }, (_, i) => ({
  deviceId: `stat-device-${i}`,
  platform: i % 2 === 0 ? "android" : "ios",
  brand: i % 4 === 0 ? "acme" : "other",
}));

async function check(d: (typeof DEVICES)[number], version: string | null) {
  const res = await call("/v1/check", {
    method: "POST",
    json: {
      appId: appKey,
      env: "prod",
      deviceId: d.deviceId,
      platform: d.platform,
      brand: d.brand,
      osVersion: "14",
      miniPrograms: [{ id: mp.key, version }],
    },
  });
  return expectJson<{ results: { action: string; version?: string }[] }>(res, 200);
}

beforeAll(async () => {
  token = (await makeWorkspace()).token;
  appKey = (await createApp(token)).key;
  mp = await createMiniProgram(token);
  ({ full, canary } = await canaryOverFull(
    token,
    { miniProgram: mp.id, appKey, env: "prod" },
    { rules: [{ attribute: "brand", operator: "include", values: ["acme"] }] },
  ));
  // Half the devices have nothing installed, half report 1.0.0.
  for (const [i, d] of DEVICES.entries()) await check(d, i % 2 === 0 ? null : "1.0.0");
});

describe("statistics from checks", () => {
  it("counts the checks that offered each release and the distinct devices offered", async () => {
    const stats = (id: string) =>
      vi.waitFor(
        async () => {
          const s = await expectJson<{ totals: { offered: number }; devices: { offered: { estimate: number } } }>(
            await call(`/v1/admin/releases/${id}/stats`, { token }),
            200,
          );
          if (s.totals.offered === 0) throw new Error("not yet");
          return s;
        },
        { timeout: 15_000, interval: 100 },
      );
    // Devices with nothing installed (even: 200): the acme ones (100) get the canary 1.1.0, the others 1.0.0;
    // devices on 1.0.0 (odd, none acme) get nothing.
    const c = await stats(canary.id);
    const f = await stats(full.id);
    await vi.waitFor(
      async () => {
        const [c2, f2] = [await stats(canary.id), await stats(full.id)];
        expect(c2.totals.offered).toBe(100);
        expect(f2.totals.offered).toBe(100);
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(Math.abs(c.devices.offered.estimate - 100)).toBeLessThanOrEqual(3);
    expect(Math.abs(f.devices.offered.estimate - 100)).toBeLessThanOrEqual(3);
  });

  it("keeps the installed versions devices report, per hour", async () => {
    const body = await vi.waitFor(
      async () => {
        const b = await expectJson<{ buckets: { versions: Record<string, { checks: number; devices: number }> }[] }>(
          await call(`/v1/admin/mini-programs/${mp.id}/installed-versions?appId=${appKey}&env=prod`, { token }),
          200,
        );
        const v = b.buckets.at(-1)?.versions["1.0.0"];
        if (v?.checks !== 200) throw new Error(`not yet: ${JSON.stringify(b.buckets)}`);
        return b;
      },
      { timeout: 15_000, interval: 100 },
    );
    const v = body.buckets.at(-1)?.versions["1.0.0"];
    expect(Math.abs((v?.devices ?? 0) - 200)).toBeLessThanOrEqual(6);
    await expectProblem(
      await call(`/v1/admin/mini-programs/${mp.id}/installed-versions?appId=nope&env=prod`, { token }),
      404,
      "NOT_FOUND",
    );
  });

  it("estimates a proposed targeting's reach from the sampled devices", async () => {
    const estimate = (json: unknown) =>
      call(`/v1/admin/releases/${canary.id}/estimate`, { method: "POST", token, json });
    type Estimate = {
      sampled: number;
      population: number;
      exact: boolean;
      current: { devices: number };
      proposed: { devices: number };
      more: { devices: number };
    };
    const e = await vi.waitFor(
      async () => {
        const body = await expectJson<Estimate>(
          await estimate({ targeting: { rules: [{ attribute: "osName", operator: "include", values: ["Android"] }] } }),
          200,
        );
        if (body.sampled < 400) throw new Error(`sampled ${body.sampled}`);
        return body;
      },
      { timeout: 15_000, interval: 100 },
    );
    // Every device is sampled (fewer than k): the counts are exact.
    expect(e).toMatchObject({ sampled: 400, population: 400, exact: true });
    expect(e.current.devices).toBe(100);
    expect(e.proposed.devices).toBe(200);
    expect(e.more.devices).toBe(100);
    // A percentage on today's targeting: in expectation, 50 % of the acme devices.
    const half = await expectJson<Estimate>(await estimate({ percentage: 5000 }), 200);
    expect(half.proposed.devices).toBe(50);
    expect(half.more.devices).toBe(-50);
    await expectProblem(await estimate({}), 400, "VALIDATION_FAILED");
    await expectProblem(await estimate({ targeting: { rules: "x" } }), 400, "VALIDATION_FAILED");
    await expectProblem(await estimate({ rampStep: 2 }), 400, "VALIDATION_FAILED");
  });
});
