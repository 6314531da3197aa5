// Budget-checked changes racing on one environment (found by review): assertSnapshotFits measured
// each change alone and the write followed with no lock, so 12 concurrent transitions to canary of
// releases costing 990 regex units each all answered 200 and the environment cost ~12,000 units
// (budget 2,000). Now a change that can add to the snapshot commits only while the environment still
// has the snapshot version it measured (a compare-and-swap in its D1 batch): the later of two racing
// changes writes nothing and answers 409 CONFLICT. The interleavings are made deterministic by a
// store wrapper that lets another change commit between the measurement and the write.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildDeps } from "../../src/deps";
import { compileSnapshot, snapshotRegexCost } from "../../src/domain/compile-snapshot";
import { AppError } from "../../src/domain/errors";
import { listRegexCost } from "../../src/domain/targeting/allowlist";
import { MAX_TARGET_REGEX_COST } from "../../src/domain/targeting/rules";
import { webCryptoHasher } from "../../src/edge/crypto";
import { createFetchHandler } from "../../src/http/app";
import { uploadAllowlistEntries } from "../../src/usecases/manage-allowlists";
import type { Context, Deps, Store } from "../../src/usecases/ports";
import { transitionRelease } from "../../src/usecases/transition-release";
import {
  type AppJson,
  auditCountForRequest,
  count,
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
import { regexTargeting } from "../support/regex-targeting";
import { BASE, call, makeWorkspace } from "../support/workspace";

const COST = 990;

let token: string;
let ctx: Context;
let mp: MiniProgramJson;
let versionCounter = 0;

beforeAll(async () => {
  expect(2 * COST).toBeLessThanOrEqual(MAX_TARGET_REGEX_COST);
  expect(3 * COST).toBeGreaterThan(MAX_TARGET_REGEX_COST);
  ({ token } = await makeWorkspace());
  const actor = await buildDeps(env).store.actorForToken(await webCryptoHasher.sha256Hex(token), Date.now());
  if (actor === null) throw new Error("no actor for the test token");
  ctx = { actor, requestId: "unused" };
  mp = await createMiniProgram(token);
});

/**
 * `n` approved releases on `app`'s prod, each with regex rules costing COST units (all distinct), or
 * what `targeting(i)` gives.
 */
async function approvedReleases(app: AppJson, n: number, targeting?: (i: number, tag: string) => unknown) {
  const out: ReleaseJson[] = [];
  for (let i = 0; i < n; i++) {
    const version = `2.${++versionCounter}.0`;
    await uploadVersion(token, mp.key, version);
    const release = await createRelease(token, { miniProgramId: mp.key, version, appId: app.key, env: "prod" });
    const put = await call(`/v1/admin/releases/${release.id}/targeting`, {
      method: "PUT",
      token,
      json: targeting?.(i, `t${versionCounter}x`) ?? regexTargeting(COST, `t${versionCounter}x`),
    });
    expect(put.status, await put.text()).toBe(200);
    for (const to of ["in_review", "approved"]) await transition(token, release.id, to);
    out.push(release);
  }
  return out;
}

const envIdOf = (app: AppJson, name = "prod") => {
  const found = app.environments.find((e) => e.name === name);
  if (!found) throw new Error(`no environment ${name}`);
  return found.id;
};

/** The environment's per-check regex cost as stored in D1 now (what its next snapshot holds). */
async function regexCostOf(environmentId: string) {
  const source = await buildDeps(env).store.snapshotSource(environmentId, 0);
  if (source === null) throw new Error("no such environment");
  return snapshotRegexCost(compileSnapshot(source));
}

/** Real ports over local D1, with `hooks` running before the named store writes delegate. */
function depsWithHooks(hooks: Partial<Record<keyof Store, () => Promise<void>>>): Deps {
  const deps = buildDeps(env);
  const store = deps.store;
  const wrapped = { ...store } as Record<string, unknown>;
  for (const [name, hook] of Object.entries(hooks)) {
    const original = (store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name];
    if (!original || !hook) continue;
    wrapped[name] = async (...args: unknown[]) => {
      await hook();
      return original(...args);
    };
  }
  return { ...deps, store: wrapped as unknown as Store };
}

/** Sends a request through the Worker's own fetch handler, with `deps` as its ports. */
function workerOver(deps: Deps) {
  const handler = createFetchHandler(() => deps);
  const executionCtx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  return (path: string, init: { method: string; token: string; json: unknown }) =>
    handler(
      new Request(`${BASE}${path}`, {
        method: init.method,
        headers: { authorization: `Bearer ${init.token}`, "content-type": "application/json" },
        body: JSON.stringify(init.json),
      }),
      env,
      executionCtx,
    );
}

/** The use case's answer as its AppError code (or "ok"), so a test can assert a refusal. */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return "ok";
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

const requestId = (tag: string) => `req_race_${tag}_${Math.random().toString(36).slice(2)}`;

describe("budget-checked changes racing on one environment", () => {
  it("refuses the later of two transitions measured on the same state (409), writing nothing", async () => {
    const app = await createApp(token, ["prod"]);
    const [live, late, early] = (await approvedReleases(app, 3)) as [ReleaseJson, ReleaseJson, ReleaseJson];
    await transition(token, live.id, "canary");
    const environmentId = envIdOf(app);
    expect(await regexCostOf(environmentId)).toBe(COST);
    // `late` measures 990 + 990 (fits); before it writes, `early` is measured and committed likewise.
    let interleaved = 0;
    const deps = depsWithHooks({
      updateReleaseStatus: async () => {
        interleaved += 1;
        await transition(token, early.id, "canary");
      },
    });
    const req = requestId("late");
    const code = await outcome(() =>
      transitionRelease(deps, { ...ctx, requestId: req }, { releaseId: late.id, to: "canary", reason: null }),
    );
    expect(interleaved).toBe(1);
    expect(code).toBe("CONFLICT");
    expect(await auditCountForRequest(req)).toBe(0);
    expect((await getRelease(token, late.id)).status).toBe("approved");
    expect((await getRelease(token, early.id)).status).toBe("canary");
    expect(await regexCostOf(environmentId)).toBe(2 * COST);
    // Retried after the conflict, it is measured on the new state and refused for the budget.
    const retry = await transitionRequest(token, late.id, "canary");
    expect(retry.status, await retry.text()).toBe(422);
    expect(await regexCostOf(environmentId)).toBeLessThanOrEqual(MAX_TARGET_REGEX_COST);
  });

  it("the same over HTTP: the refused request answers 409 CONFLICT with no audit row", async () => {
    const app = await createApp(token, ["prod"]);
    const [late, early] = (await approvedReleases(app, 2)) as [ReleaseJson, ReleaseJson];
    // Two releases that fit together: the conflict comes from the race alone, not the budget.
    const send = workerOver(
      depsWithHooks({
        updateReleaseStatus: async () => {
          await transition(token, early.id, "canary");
        },
      }),
    );
    const res = await send(`/v1/admin/releases/${late.id}/transitions`, {
      method: "POST",
      token,
      json: { to: "canary" },
    });
    const { body } = await expectProblem(res, 409, "CONFLICT");
    expect(await auditCountForRequest(body.requestId)).toBe(0);
    expect((await getRelease(token, late.id)).status).toBe("approved");
    // Re-read and retried: now it is measured with `early` live, fits, and goes through.
    await transition(token, late.id, "canary");
    expect(await regexCostOf(envIdOf(app))).toBe(2 * COST);
  });

  it("lets a pause or an end through while other releases of the environment change meanwhile", async () => {
    const app = await createApp(token, ["prod"]);
    const [a, b, c] = (await approvedReleases(app, 3)) as [ReleaseJson, ReleaseJson, ReleaseJson];
    await transition(token, a.id, "canary");
    await transition(token, b.id, "canary");
    // A pause only takes a release out of the snapshot: no environment compare-and-swap.
    const deps = depsWithHooks({
      updateReleaseStatus: async () => {
        await transition(token, b.id, "paused");
      },
    });
    expect(
      await outcome(() =>
        transitionRelease(
          deps,
          { ...ctx, requestId: requestId("pause") },
          { releaseId: a.id, to: "paused", reason: null },
        ),
      ),
    ).toBe("ok");
    const ending = depsWithHooks({
      updateReleaseStatus: async () => {
        await transition(token, c.id, "canary");
      },
    });
    expect(
      await outcome(() =>
        transitionRelease(
          ending,
          { ...ctx, requestId: requestId("end") },
          { releaseId: b.id, to: "ended", reason: null },
        ),
      ),
    ).toBe("ok");
    expect((await getRelease(token, a.id)).status).toBe("paused");
    expect((await getRelease(token, b.id)).status).toBe("ended");
  });

  it("conditions a live release's rollout on the environment, not a targeting edit before review", async () => {
    const app = await createApp(token, ["prod"]);
    const [a, b] = (await approvedReleases(app, 2)) as [ReleaseJson, ReleaseJson];
    await transition(token, a.id, "canary");
    const racing = (to: string) =>
      workerOver(
        depsWithHooks({
          updateReleaseTargeting: async () => {
            await transition(token, b.id, to);
          },
        }),
      );
    // A rollout of a live release changes its snapshot: measured state gone, 409 and nothing written.
    const res = await racing("canary")(`/v1/admin/releases/${a.id}/rollout`, {
      method: "PUT",
      token,
      json: { basisPoints: 2500 },
    });
    const { body } = await expectProblem(res, 409, "CONFLICT");
    expect(await auditCountForRequest(body.requestId)).toBe(0);
    const targeting = (await call(`/v1/admin/releases/${a.id}`, { token }).then((r) => r.json())) as {
      targeting: { percentage: { basisPoints: number } };
    };
    expect(targeting.targeting.percentage.basisPoints).toBe(10000);
    // A release not yet submitted is not in the snapshot: editing its targeting never conflicts on it.
    const version = `2.${++versionCounter}.0`;
    await uploadVersion(token, mp.key, version);
    const draft = await createRelease(token, { miniProgramId: mp.key, version, appId: app.key, env: "prod" });
    const put = await racing("paused")(`/v1/admin/releases/${draft.id}/targeting`, {
      method: "PUT",
      token,
      json: regexTargeting(COST, "draft"),
    });
    expect(put.status, await put.text()).toBe(200);
  });

  it("refuses an allowlist upload measured before another change committed (409), writing nothing", async () => {
    const list = await expectJson<{ id: string }>(
      await call("/v1/admin/allowlists", { method: "POST", token, json: { name: "race-deny", kind: "device" } }),
      201,
    );
    const upload = (deps: Deps, body: string, req: string) =>
      outcome(() =>
        uploadAllowlistEntries(
          deps,
          { ...ctx, requestId: req },
          { idOrName: list.id, mode: "replace", readBody: async () => body },
        ),
      );
    expect(await upload(buildDeps(env), "re:^blocked-", requestId("seed"))).toBe("ok");
    const listCost = listRegexCost(["^blocked-"]);
    const app = await createApp(token, ["prod", "test"]);
    // `referring` refers to the list: its rules and the list cost COST together.
    const [referring, other] = (await approvedReleases(app, 2, (i, tag) =>
      i === 0 ? regexTargeting(COST - listCost, tag, { denylists: [{ kind: "device", listId: list.id }] }) : undefined,
    )) as [ReleaseJson, ReleaseJson];
    await transition(token, referring.id, "canary");
    const environmentId = envIdOf(app);
    expect(await regexCostOf(environmentId)).toBe(COST);
    // Raising the list's cost fits alone (990 + the rise); `other` going live meanwhile fits alone
    // too (990 + 990); together they would be over the budget.
    const entries = ["^blocked-", `^banned-${"x".repeat(40)}`];
    const raised = entries.map((e) => `re:${e}`).join("\n");
    const rise = listRegexCost(entries) - listCost;
    expect(2 * COST + rise).toBeGreaterThan(MAX_TARGET_REGEX_COST);
    expect(COST + rise).toBeLessThanOrEqual(MAX_TARGET_REGEX_COST);
    const deps = depsWithHooks({
      updateAllowlistContent: async () => {
        await transition(token, other.id, "canary");
      },
    });
    const req = requestId("list");
    const before = await expectJson<{ contentVersion: number }>(
      await call(`/v1/admin/allowlists/${list.id}`, { token }),
      200,
    );
    expect(await upload(deps, raised, req)).toBe("CONFLICT");
    expect(await auditCountForRequest(req)).toBe(0);
    const after = await expectJson<{ contentVersion: number; regexEntries: string[] }>(
      await call(`/v1/admin/allowlists/${list.id}`, { token }),
      200,
    );
    expect(after).toMatchObject({ contentVersion: before.contentVersion, regexEntries: ["^blocked-"] });
    expect(await regexCostOf(environmentId)).toBeLessThanOrEqual(MAX_TARGET_REGEX_COST);
    // Retried, it is measured with `other` live and refused for the budget.
    expect(await upload(buildDeps(env), raised, requestId("retry"))).toBe("REGEX_BUDGET_EXCEEDED");

    // An environment of the workspace created after the measurement was not measured: a conflict too.
    await transition(token, other.id, "ended");
    const adding = depsWithHooks({
      updateAllowlistContent: async () => {
        const res = await call(`/v1/admin/apps/${app.key}/environments`, {
          method: "POST",
          token,
          json: { name: "qa" },
        });
        expect(res.status, await res.text()).toBe(201);
      },
    });
    expect(await upload(adding, raised, requestId("new-env"))).toBe("CONFLICT");
    // With nothing racing, it goes through.
    expect(await upload(buildDeps(env), raised, requestId("calm"))).toBe("ok");
    expect(await regexCostOf(environmentId)).toBe(COST + rise);
  });

  it("keeps the environment within the budget when 12 transitions to canary race over HTTP", async () => {
    const app = await createApp(token, ["prod"]);
    const releases = await approvedReleases(app, 12);
    const responses = await Promise.all(releases.map((r) => transitionRequest(token, r.id, "canary")));
    const statuses = responses.map((r) => r.status);
    for (const r of responses) await r.body?.cancel();
    for (const s of statuses) expect([200, 409, 422]).toContain(s);
    expect(statuses).toContain(200);
    const environmentId = envIdOf(app);
    expect(await regexCostOf(environmentId)).toBeLessThanOrEqual(MAX_TARGET_REGEX_COST);
    const live = await count(
      "select count(*) as n from releases where environment_id = ? and status = 'canary'",
      environmentId,
    );
    expect(live).toBe(statuses.filter((s) => s === 200).length);
    expect(live).toBeLessThanOrEqual(2);
  });
});
