// The freshness bound on Cloudflare: a pause, an end or a percentage change reaches every check within
// FRESHNESS_BOUND_MS, although KV serves values up to a minute old and new keys as missing there. An
// isolate other than the one that made the change (its own delivery cache) reads through the real local
// KV wrapped to behave at its worst (test/support/faulty-kv.ts), the real R2, the real DeliveryIndex
// Durable Object and a real Cache API cache standing for its location, all on an injected clock that
// the test moves in steps. No timed assertion: the clock is the test's.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_DELIVERY_CACHE } from "../../src/edge/delivery-cache";
import { HEAD_LOCATION_TTL_MS } from "../../src/edge/delivery-store";
import { type CheckInput, decideAll } from "../../src/usecases/check-updates";
import { transition } from "../support/admin-factories";
import { canaryFixture } from "../support/canary";
import { checkInput } from "../support/decide-fixtures";
import { faultyKv, STALE_MS } from "../support/faulty-kv";
import { isolateDeps } from "../support/isolate";
import { call, makeWorkspace } from "../support/workspace";

/** The documented bound (docs/architecture.md, "Freshness"): poll + location cache + one read each. */
const FRESHNESS_BOUND_MS = 5_000;
const STEP_MS = 100;

/** Another isolate at another location: its own cache, clock, location cache and KV view. */
async function otherIsolate() {
  let now = Date.now();
  const clock = { now: () => now };
  const faulty = faultyKv(env.SNAPSHOTS, clock);
  const { deps } = await isolateDeps(clock, { kv: faulty.kv });
  // Background refreshes handed to `defer` (the runtime's waitUntil) run on; the test awaits them
  // before it moves the clock, as the runtime would finish them meanwhile.
  const deferred: Promise<unknown>[] = [];
  const check = async (input: CheckInput) => {
    const origin = { cf: null, userAgent: null, defer: (p: Promise<unknown>) => deferred.push(p) };
    const [decision] = (await decideAll(deps, input, origin, "admit")).decisions;
    await Promise.all(deferred.splice(0));
    // The version the device (on 1.0.0) ends up on.
    return decision?.action === "update" ? decision.release.version : "1.0.0";
  };
  return {
    faulty,
    check,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

const device = (fx: { appKey: string; mpKey: string }): CheckInput =>
  checkInput({
    appId: fx.appKey,
    deviceId: "dev-1",
    miniPrograms: [{ id: fx.mpKey, version: "1.0.0", sha256: null, failed: [] }],
  });

/** Moves the other isolate's clock in steps until its check answers `expected`; the time that took. */
async function timeUntil(isolate: Awaited<ReturnType<typeof otherIsolate>>, input: CheckInput, expected: string) {
  const start = isolate.now();
  for (let waited = 0; waited <= 2 * STALE_MS; waited += STEP_MS) {
    if ((await isolate.check(input)) === expected) return isolate.now() - start;
    isolate.advance(STEP_MS);
  }
  throw new Error(`still not ${expected} after ${2 * STALE_MS} ms`);
}

describe("freshness across isolates, with KV at its worst", () => {
  it("a pause and a continue reach another isolate within the bound", async () => {
    const { token } = await makeWorkspace();
    const fx = await canaryFixture(token, { percentage: { basisPoints: 10_000 } });
    const other = await otherIsolate();
    // Its first check already meets KV's faults: every part is new to it, so KV answers "missing".
    expect(await other.check(device(fx))).toBe("1.1.0");
    expect(other.faulty.missesServed).toBeGreaterThan(0);
    // Warm: well past the poll interval and the location cache's TTL, the state in hand is current.
    other.advance(10_000);
    expect(await other.check(device(fx))).toBe("1.1.0");

    await transition(token, fx.releaseId, "paused");
    const paused = await timeUntil(other, device(fx), "1.0.0");
    expect(paused).toBeLessThanOrEqual(FRESHNESS_BOUND_MS);
    // Not luck: one poll interval and one location cache TTL may pass before a change is seen.
    expect(FRESHNESS_BOUND_MS).toBeGreaterThanOrEqual(DEFAULT_DELIVERY_CACHE.pollMs + HEAD_LOCATION_TTL_MS);

    const missesBefore = other.faulty.missesServed;
    await transition(token, fx.releaseId, "canary");
    expect(await timeUntil(other, device(fx), "1.1.0")).toBeLessThanOrEqual(FRESHNESS_BOUND_MS);
    // The continued release's part is new to KV at this location: it was read from R2 instead.
    expect(other.faulty.missesServed).toBeGreaterThan(missesBefore);
  });

  it("a percentage change and an end reach another isolate within the bound", async () => {
    const { token } = await makeWorkspace();
    const fx = await canaryFixture(token, { percentage: { basisPoints: 0 } });
    const other = await otherIsolate();
    expect(await other.check(device(fx))).toBe("1.0.0");
    other.advance(10_000);
    const rollout = await call(`/v1/admin/releases/${fx.releaseId}/rollout`, {
      method: "PUT",
      token,
      json: { basisPoints: 10_000 },
    });
    expect(rollout.status, await rollout.text()).toBe(200);
    expect(await timeUntil(other, device(fx), "1.1.0")).toBeLessThanOrEqual(FRESHNESS_BOUND_MS);
    other.advance(10_000);
    await transition(token, fx.releaseId, "ended");
    expect(await timeUntil(other, device(fx), "1.0.0")).toBeLessThanOrEqual(FRESHNESS_BOUND_MS);
  });
});
