// The size bound of one mini program's delivery part (PART_MAX_BYTES, 2 MiB in the test
// configuration): a change that would outgrow it is refused before anything is written, so devices
// never keep stale delivery state behind a committed change. Found by fuzzing: releases with large
// configurations once made the snapshot too large for KV after the change had been committed (a 500).
// The bound is per mini program: how many others the target has, and how large they are, does not count.
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AppJson,
  auditCountForRequest,
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  getRelease,
  type MiniProgramJson,
  type ReleaseJson,
  transition,
  transitionRequest,
  uploadVersion,
} from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";

/** About 920 KB of targeting: four exclude rules of 1,000 values of 230 characters each (every device passes). */
function bulkyTargeting(tag: string) {
  const values = (r: number) => Array.from({ length: 1000 }, (_, i) => `${tag}-${r}-${i}-`.padEnd(230, "x"));
  return { rules: [0, 1, 2, 3].map((r) => ({ attribute: "model", operator: "exclude", values: values(r) })) };
}

let token: string;
let app: AppJson;
let mp: MiniProgramJson;
const releases: ReleaseJson[] = [];

/** Three approved releases of a new mini program, each with about 920 KB of targeting. */
async function bulkyMiniProgram(): Promise<{ mp: MiniProgramJson; releases: ReleaseJson[] }> {
  const mp = await createMiniProgram(token);
  const releases: ReleaseJson[] = [];
  for (const [i, version] of ["1.1.0", "1.2.0", "1.3.0"].entries()) {
    await uploadVersion(token, mp.key, version);
    const release = await createRelease(token, { miniProgramId: mp.key, version, appId: app.key, env: "prod" });
    const put = await call(`/v1/admin/releases/${release.id}/targeting`, {
      method: "PUT",
      token,
      json: bulkyTargeting(`r${i}`),
    });
    expect(put.status, await put.text()).toBe(200);
    for (const to of ["in_review", "approved"]) await transition(token, release.id, to);
    releases.push(release);
  }
  return { mp, releases };
}

beforeAll(async () => {
  ({ token } = await makeWorkspace());
  app = await createApp(token, ["prod"]);
  const first = await bulkyMiniProgram();
  mp = first.mp;
  releases.push(...first.releases);
}, 60_000);

/** A check of device dev-1 asking about `keys` (the first mini program by default). */
const check = (...keys: string[]) =>
  call("/v1/check", {
    method: "POST",
    json: {
      appId: app.key,
      env: "prod",
      deviceId: "dev-1",
      model: "Pixel 8",
      miniPrograms: (keys.length > 0 ? keys : [mp.key]).map((id) => ({ id, version: null })),
    },
  });

describe("the size bound of one mini program's delivery part", () => {
  it("refuses the transition that would outgrow it, writing nothing, while earlier ones went live", async () => {
    const [first, second, third] = releases as [ReleaseJson, ReleaseJson, ReleaseJson];
    await transition(token, first.id, "canary");
    await transition(token, second.id, "canary");
    const refused = await transitionRequest(token, third.id, "canary");
    const { body } = await expectProblem(refused, 422, "SNAPSHOT_TOO_LARGE");
    expect(await auditCountForRequest(body.requestId)).toBe(0);
    expect((await getRelease(token, third.id)).status).toBe("approved");
    // Delivery follows the state that fits: the second release (the highest live one) for every device.
    const answer = await expectJson<{ results: { action: string; version?: string }[] }>(await check(), 200);
    expect(answer.results[0]).toMatchObject({ action: "update", version: "1.2.0" });
  });

  it("does not count other mini programs: a second one grows the target past the bound and still goes live", async () => {
    // The target already holds about 1.8 MB of the first mini program; this one adds as much again.
    const other = await bulkyMiniProgram();
    const [first, second, third] = other.releases as [ReleaseJson, ReleaseJson, ReleaseJson];
    await transition(token, first.id, "canary");
    await transition(token, second.id, "canary");
    await expectProblem(await transitionRequest(token, third.id, "canary"), 422, "SNAPSHOT_TOO_LARGE");
    const answer = await expectJson<{ results: { action: string; version?: string }[] }>(
      await check(other.mp.key),
      200,
    );
    expect(answer.results[0]).toMatchObject({ action: "update", version: "1.2.0" });
  }, 60_000);

  it("a check asking about mini programs whose data together is over the check bound is CHECK_TOO_LARGE", async () => {
    // Two releases of about 920 KB live each: about 1.8 MB per mini program, five of them over 8 MiB.
    const keys = [mp.key];
    while (keys.length < 5) {
      const more = await bulkyMiniProgram();
      for (const r of more.releases.slice(0, 2)) await transition(token, r.id, "canary");
      keys.push(more.mp.key);
    }
    const ask = (ids: string[]) => check(...ids);
    const { body } = await expectProblem(await ask(keys), 422, "CHECK_TOO_LARGE");
    expect(body.detail).toMatch(/ask about fewer mini programs per check/);
    // Four of them fit, and so does the fifth alone.
    expect((await ask(keys.slice(0, 4))).status).toBe(200);
    expect((await ask(keys.slice(4))).status).toBe(200);
    await expectProblem(await ask(keys), 422, "CHECK_TOO_LARGE");
  }, 120_000);

  it("lets a live release's rollout change (it hardly changes the size) and a pause that shrinks nothing", async () => {
    const second = releases[1] as ReleaseJson;
    const rollout = await call(`/v1/admin/releases/${second.id}/rollout`, {
      method: "PUT",
      token,
      json: { basisPoints: 2500 },
    });
    expect(rollout.status, await rollout.text()).toBe(200);
    await transition(token, second.id, "paused");
  });

  it("refuses a configuration over 64 KiB of JSON with a pointer, before the snapshot is involved", async () => {
    const switches = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`s${i}`, "x".repeat(1000)]));
    const res = await call("/v1/admin/releases", {
      method: "POST",
      token,
      json: { miniProgramId: mp.key, version: "1.3.0", appId: app.key, env: "prod", config: { switches } },
    });
    const { body } = await expectProblem(res, 400, "VALIDATION_FAILED");
    expect(body.errors?.[0]?.pointer).toBe("/config");
    // Counted in UTF-8 bytes (found by review: 60,544 characters of "界" are 180,544 bytes).
    const wide = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`w${i}`, "界".repeat(1000)]));
    const res2 = await call("/v1/admin/releases", {
      method: "POST",
      token,
      json: { miniProgramId: mp.key, version: "1.3.0", appId: app.key, env: "prod", config: { switches: wide } },
    });
    await expectProblem(res2, 400, "VALIDATION_FAILED");
  });
});
