// The per-check regex budget (MAX_TARGET_REGEX_COST): every canary release's regex rules plus the
// regex entries of the lists they refer to, in one (app, environment). A change that would take the
// target over it is refused with 422 REGEX_BUDGET_EXCEEDED before anything is written; a change that
// does not grow the cost (a rollout, a pause, an end) always passes, even over the budget.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { listRegexCost, MAX_LIST_REGEX_COST } from "../../src/domain/targeting/allowlist";
import { MAX_RELEASE_REGEX_COST, MAX_TARGET_REGEX_COST } from "../../src/domain/targeting/rules";
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
import { regexTargeting } from "../support/regex-targeting";
import { call, makeWorkspace } from "../support/workspace";

let token: string;
let app: AppJson;
let mp: MiniProgramJson;
let listId: string;
const releases: ReleaseJson[] = [];

async function putTargeting(releaseId: string, targeting: unknown) {
  return call(`/v1/admin/releases/${releaseId}/targeting`, { method: "PUT", token, json: targeting });
}

async function uploadEntries(body: string, method: "PUT" | "POST" = "PUT") {
  return call(`/v1/admin/allowlists/${listId}/entries`, {
    method,
    token,
    headers: { "content-type": "text/plain" },
    body,
  });
}

const getList = async () =>
  expectJson<{ contentVersion: number; regexEntries: string[] }>(
    await call(`/v1/admin/allowlists/${listId}`, { token }),
    200,
  );

beforeAll(async () => {
  expect(2 * MAX_RELEASE_REGEX_COST).toBe(MAX_TARGET_REGEX_COST);
  ({ token } = await makeWorkspace());
  app = await createApp(token, ["prod"]);
  mp = await createMiniProgram(token);
  const list = await expectJson<{ id: string }>(
    await call("/v1/admin/allowlists", { method: "POST", token, json: { name: "rx-deny", kind: "device" } }),
    201,
  );
  listId = list.id;
  await expectJson(await uploadEntries("re:^blocked-"), 200);
  for (const version of ["1.1.0", "1.2.0", "1.3.0"]) {
    await uploadVersion(token, mp.key, version);
    releases.push(await createRelease(token, { miniProgramId: mp.key, version, appId: app.key, env: "prod" }));
  }
});

describe("the per-check regex budget", () => {
  it("refuses a release's rules and lists over the release budget with a pointer (400)", async () => {
    const [first] = releases as [ReleaseJson];
    const res = await putTargeting(
      first.id,
      regexTargeting(MAX_RELEASE_REGEX_COST, "x", {
        denylists: [{ kind: "device", listId }],
      }),
    );
    const { body } = await expectProblem(res, 400, "VALIDATION_FAILED");
    expect(body.errors?.[0]?.pointer).toBe("/denylists/0/listId");
    expect(body.errors?.[0]?.message).toContain(`over the limit of ${MAX_RELEASE_REGEX_COST} per release`);
  });

  it("accepts releases exactly at the target budget and refuses the transition that would go over it", async () => {
    const [first, second, third] = releases as [ReleaseJson, ReleaseJson, ReleaseJson];
    const listCost = listRegexCost((await getList()).regexEntries);
    // First: rules + the denylist = the release budget; second: rules = the release budget.
    let put = await putTargeting(
      first.id,
      regexTargeting(MAX_RELEASE_REGEX_COST - listCost, "a", { denylists: [{ kind: "device", listId }] }),
    );
    expect(put.status, await put.text()).toBe(200);
    put = await putTargeting(second.id, regexTargeting(MAX_RELEASE_REGEX_COST, "b"));
    expect(put.status, await put.text()).toBe(200);
    put = await putTargeting(third.id, regexTargeting(3, "c"));
    expect(put.status, await put.text()).toBe(200);
    for (const r of [first, second, third])
      for (const to of ["in_review", "approved"]) await transition(token, r.id, to);
    await transition(token, first.id, "canary");
    await transition(token, second.id, "canary");

    const refused = await transitionRequest(token, third.id, "canary");
    const { body } = await expectProblem(refused, 422, "REGEX_BUDGET_EXCEEDED");
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(body.detail).toContain(
      `costing ${MAX_TARGET_REGEX_COST + 3} units, over its limit of ${MAX_TARGET_REGEX_COST}`,
    );
    expect(await auditCountForRequest(body.requestId)).toBe(0);
    expect((await getRelease(token, third.id)).status).toBe("approved");
  });

  it("refuses an allowlist upload that raises a used list's regex cost over the budget, writing nothing", async () => {
    const before = await getList();
    for (const method of ["PUT", "POST"] as const) {
      const res = await uploadEntries("re:^blocked-\nre:^banned-", method);
      const { body } = await expectProblem(res, 422, "REGEX_BUDGET_EXCEEDED");
      expect(await auditCountForRequest(body.requestId)).toBe(0);
    }
    expect(await getList()).toMatchObject({ contentVersion: before.contentVersion, regexEntries: before.regexEntries });
    // Exact entries, or regex entries that cost no more, are fine.
    const same = await uploadEntries("dev-1\nre:^blocked-");
    expect(same.status, await same.text()).toBe(200);
    expect((await getList()).contentVersion).toBe(before.contentVersion + 1);
  });

  it("refuses a list over its own budget (400, with the line)", async () => {
    // `^<digit>a{96}` costs 100 units: the line that takes the list over its budget is named.
    const n = MAX_LIST_REGEX_COST / 100 + 1;
    const lines = Array.from({ length: n }, (_, i) => `re:^${i}a{96}`);
    expect(listRegexCost(lines.map((l) => l.slice(3)))).toBe(100 * n);
    const res = await uploadEntries(lines.join("\n"));
    const { body } = await expectProblem(res, 400, "VALIDATION_FAILED");
    expect(body.errors).toEqual([
      {
        pointer: `/lines/${n}`,
        message: `the list's regex entries would cost ${100 * n} regex units, over the limit of ${MAX_LIST_REGEX_COST} per list`,
      },
    ]);
  });

  it("always lets a rollout, a pause and an end through, even over the budget", async () => {
    const [first, second, third] = releases as [ReleaseJson, ReleaseJson, ReleaseJson];
    // A state over the budget, as saved before the bound existed: the third release live as well.
    await env.DB.prepare("update releases set status = 'canary' where id = ?").bind(third.id).run();
    const rollout = await call(`/v1/admin/releases/${first.id}/rollout`, {
      method: "PUT",
      token,
      json: { basisPoints: 2500 },
    });
    expect(rollout.status, await rollout.text()).toBe(200);
    await transition(token, second.id, "paused");
    await transition(token, third.id, "ended");
    // Back under the budget: resuming the paused release fits again.
    await transition(token, second.id, "canary");
    // Pausing and ending at the budget pass too.
    await transition(token, second.id, "ended");
    await transition(token, first.id, "paused");
  });
});
