// Health gates end to end on the real local Queue, Durable Objects and D1: device events reach the
// release's monitor, whose alarm (armed every 30 s while the gate watches) judges the Wilson lower
// bound of the failure rate, pauses a failing canary through the same path as a person (audited as
// system:health-gate, delivery rebuilt), and commits a phased ramp's steps only while healthy.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  getRelease,
  transition,
  uploadVersion,
} from "../support/admin-factories";
import { sessionOf } from "../support/console";
import { call, makeWorkspace } from "../support/workspace";

let token: string;
let workspaceId: string;
let appKey: string;

beforeAll(async () => {
  const w = await makeWorkspace();
  token = w.token;
  workspaceId = w.workspaceId;
  appKey = (await createApp(token)).key;
});

/** A canary of a new mini program with `targeting`, and its health policy. */
async function gatedCanary(targeting: unknown, policy: unknown) {
  const mp = await createMiniProgram(token);
  await uploadVersion(token, mp.id, "1.0.0");
  const r = await createRelease(token, { miniProgramId: mp.id, version: "1.0.0", appId: appKey, env: "prod" });
  const t = await call(`/v1/admin/releases/${r.id}/targeting`, { method: "PUT", token, json: targeting });
  expect(t.status, await t.text()).toBe(200);
  for (const to of ["in_review", "approved", "canary"]) await transition(token, r.id, to);
  const p = await call(`/v1/admin/releases/${r.id}/health-policy`, { method: "PUT", token, json: policy });
  expect(p.status, await p.text()).toBe(200);
  return { mp, releaseId: r.id };
}

/** `devices` devices each download; the first `failing` fail to install, the others install. */
async function report(c: { mp: { key: string }; releaseId: string }, devices: number, failing: number) {
  const now = Date.now();
  for (let i = 0; i < devices; i++) {
    const events = [
      { id: "d", type: "download_ok", miniProgram: c.mp.key, version: "1.0.0", releaseId: c.releaseId, at: now },
      {
        id: "i",
        type: i < failing ? "install_failed" : "install_ok",
        miniProgram: c.mp.key,
        version: "1.0.0",
        releaseId: c.releaseId,
        at: now,
        ...(i < failing ? { errorCode: "HASH_MISMATCH" } : {}),
      },
    ];
    const res = await call("/v1/events", {
      method: "POST",
      json: { appId: appKey, env: "prod", deviceId: `${c.releaseId}-${i}`, events },
    });
    expect(res.status).toBe(202);
  }
  await vi.waitFor(
    async () => {
      const s = await expectJson<{ totals: { download_ok: number } }>(
        await call(`/v1/admin/releases/${c.releaseId}/stats`, { token }),
        200,
      );
      if (s.totals.download_ok !== devices) throw new Error(`counted ${s.totals.download_ok}`);
    },
    { timeout: 15_000, interval: 100 },
  );
}

const monitor = (releaseId: string) => env.MONITORS.get(env.MONITORS.idFromName(releaseId));

interface Health {
  last: { verdict: string; reason: string; attempts: number; failures: number } | null;
  ramp: { committedSteps: number; holding: string | null };
}
const health = async (releaseId: string) =>
  expectJson<Health>(await call(`/v1/admin/releases/${releaseId}/health`, { token }), 200);

describe("health gates", () => {
  it("pause a canary failing at 5 % against a 1 % gate within 60 s, audited under the system actor", async () => {
    const c = await gatedCanary({ percentage: { basisPoints: 10_000 } }, { failureRateBasisPoints: 100 });
    await report(c, 400, 20);
    // The gate's alarm is due within 30 s of arming (and of every judgement): within the 60 s bound.
    const due = await runInDurableObject(monitor(c.releaseId), (_i, state) => state.storage.getAlarm());
    expect(due).not.toBeNull();
    expect((due as number) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(await runDurableObjectAlarm(monitor(c.releaseId))).toBe(true);
    const release = await getRelease(token, c.releaseId);
    expect(release.status).toBe("paused");
    const h = await health(c.releaseId);
    expect(h.last).toMatchObject({ verdict: "breached", attempts: 400, failures: 20 });
    const audit = await env.DB.prepare(
      "select action, actor_member_id as actor, after from audit_logs where workspace_id = ? and resource_id = ? and actor_member_id = 'system:health-gate' order by created_at",
    )
      .bind(workspaceId, c.releaseId)
      .all<{ action: string; actor: string; after: string }>();
    expect(audit.results.map((r) => r.action).sort()).toEqual(["release.health_gate_breached", "release.transition"]);
    const moved = audit.results.find((r) => r.action === "release.transition");
    expect(JSON.parse(moved?.after ?? "{}").reason).toMatch(
      /^Health gate: Failure rate lower bound .* is over the 1 % threshold\.$/,
    );
    // The console's release page says why it stopped.
    const cookie = await sessionOf(token);
    const page = await (await call(`/console/releases/${c.releaseId}`, { headers: { cookie } })).text();
    expect(page).toMatch(
      /<p class="error" role="alert">Halted by its health gate: Failure rate lower bound .* is over/,
    );
    expect(page).toContain("Pauses the release when its failure rate is over 1 % with 95 % confidence");
    // The paused release is not offered any more.
    const check = await expectJson<{ results: { action: string }[] }>(
      await call("/v1/check", {
        method: "POST",
        json: { appId: appKey, env: "prod", deviceId: "new-device", miniPrograms: [{ id: c.mp.key, version: null }] },
      }),
      200,
    );
    expect(check.results[0]?.action).toBe("none");
  });

  it("let a healthy canary's ramp advance one committed step per judgement, and hold without enough data", async () => {
    // Two steps due a few seconds after the gate is set (a gate keeps the steps already due), a third tomorrow.
    const now = Date.now();
    const ramp = [
      { at: now + 4000, basisPoints: 2000 },
      { at: now + 5000, basisPoints: 5000 },
      { at: now + 86_400_000, basisPoints: 10_000 },
    ];
    const c = await gatedCanary(
      { percentage: { basisPoints: 100, ramp } },
      { failureRateBasisPoints: 100, minAttempts: 50 },
    );
    expect((await health(c.releaseId)).ramp).toMatchObject({ committedSteps: 0, holding: null });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, now + 5100 - Date.now())));
    // Before any data the gate holds the ramp at its base percentage, and says why.
    expect(await runDurableObjectAlarm(monitor(c.releaseId))).toBe(true);
    let h = await health(c.releaseId);
    expect(h.ramp.committedSteps).toBe(0);
    expect(h.ramp.holding).toMatch(/^Holding at step 0 of the ramp: Not enough data: 0 attempts/);
    await report(c, 100, 0);
    expect(await runDurableObjectAlarm(monitor(c.releaseId))).toBe(true);
    h = await health(c.releaseId);
    expect(h.last?.verdict).toBe("healthy");
    expect(h.ramp.committedSteps).toBe(1);
    expect(await runDurableObjectAlarm(monitor(c.releaseId))).toBe(true);
    expect((await health(c.releaseId)).ramp.committedSteps).toBe(2);
    // The third step is not due: nothing more is committed.
    expect(await runDurableObjectAlarm(monitor(c.releaseId))).toBe(true);
    expect((await health(c.releaseId)).ramp.committedSteps).toBe(2);
    expect((await getRelease(token, c.releaseId)).status).toBe("canary");
    const commits = await env.DB.prepare(
      "select count(*) as n from audit_logs where resource_id = ? and action = 'release.ramp_step_committed' and actor_member_id = 'system:health-gate'",
    )
      .bind(c.releaseId)
      .first<{ n: number }>();
    expect(commits?.n).toBe(2);
  });

  it("keeps the ramp steps the clock already applied when a gate is added to a live canary", async () => {
    const now = Date.now();
    const ramp = [
      { at: now - 60_000, basisPoints: 2000 },
      { at: now + 86_400_000, basisPoints: 5000 },
    ];
    const c = await gatedCanary({ percentage: { basisPoints: 100, ramp } }, { failureRateBasisPoints: 100 });
    expect((await health(c.releaseId)).ramp.committedSteps).toBe(1);
    expect((await getRelease(token, c.releaseId)) as unknown as { rampCommitted: number }).toMatchObject({
      rampCommitted: 1,
    });
  });

  it("refuses an invalid policy, and removing one disarms the gate", async () => {
    const c = await gatedCanary({ percentage: { basisPoints: 500 } }, { failureRateBasisPoints: 200 });
    const bad = await call(`/v1/admin/releases/${c.releaseId}/health-policy`, {
      method: "PUT",
      token,
      json: { failureRateBasisPoints: 0, confidence: 0.5, windowMs: 1000 },
    });
    const { body } = await expectProblem(bad, 400, "VALIDATION_FAILED");
    expect(body.errors?.map((e) => e.pointer).sort()).toEqual(["/confidence", "/failureRateBasisPoints", "/windowMs"]);
    const removed = await expectJson<{ policy: unknown }>(
      await call(`/v1/admin/releases/${c.releaseId}/health-policy`, { method: "DELETE", token }),
      200,
    );
    expect(removed.policy).toBeNull();
    const gate = await runInDurableObject(monitor(c.releaseId), (i) =>
      (i as unknown as { gate(): { armed: boolean } }).gate(),
    );
    expect(gate.armed).toBe(false);
  });
});
