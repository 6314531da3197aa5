import { beforeAll, describe, expect, it } from "vitest";
import { count, expectProblem } from "../support/admin-factories";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

describe("reviews and workspace boundaries", () => {
  let tokens: { admin: string; reviewer: string };
  let fixture: { releaseId: string; reviewReleaseId: string };

  beforeAll(async () => {
    const ws = await makeWorkspace("admin");
    const admin = ws.token;
    tokens = { admin, reviewer: (await addMember(ws.workspaceId, "reviewer")).token };
    const appKey = uniqueKey("sec");
    await call("/v1/admin/apps", {
      method: "POST",
      token: admin,
      json: { key: appKey, name: "x", platforms: ["ios"] },
    });
    await call("/v1/admin/mini-programs", { method: "POST", token: admin, json: { key: "pay", names: { en: "Pay" } } });
    await call("/v1/admin/mini-programs/pay/versions?version=1.1.0", {
      method: "POST",
      token: admin,
      headers: { "content-type": "application/zip" },
      body: makeZip({ "index.js": "1.1.0" }),
    });
    const rel = async (env: string) =>
      (
        await (
          await call("/v1/admin/releases", {
            method: "POST",
            token: admin,
            json: { miniProgramId: "pay", version: "1.1.0", appId: appKey, env },
          })
        ).json<{ id: string }>()
      ).id;
    fixture = { releaseId: await rel("prod"), reviewReleaseId: await rel("test") };
    await call(`/v1/admin/releases/${fixture.reviewReleaseId}/transitions`, {
      method: "POST",
      token: admin,
      json: { to: "in_review" },
    });
  });

  it("lets reviewers approve and reject but not release", async () => {
    const approve = await call(`/v1/admin/releases/${fixture.reviewReleaseId}/transitions`, {
      method: "POST",
      token: tokens.reviewer,
      json: { to: "approved" },
    });
    expect(approve.status).toBe(200);
    const full = await call(`/v1/admin/releases/${fixture.reviewReleaseId}/transitions`, {
      method: "POST",
      token: tokens.reviewer,
      json: { to: "full" },
    });
    expect(full.status).toBe(403);
  });

  it("never lets a token see another workspace's resources", async () => {
    const other = await makeWorkspace("admin");
    const res = await call(`/v1/admin/releases/${fixture.releaseId}`, { token: other.token });
    expect(res.status).toBe(404);
    const apps = await (await call("/v1/admin/apps", { token: other.token })).json<{ items: unknown[] }>();
    expect(apps.items).toEqual([]);
  });
});

describe("keys and names shaped like ids", () => {
  it("refuses mini program keys and allowlist names that start like a generated id, and writes nothing", async () => {
    const { token } = await makeWorkspace();
    for (const key of ["mp_shadow", "al_list", "REL_x"]) {
      const res = await call("/v1/admin/mini-programs", { method: "POST", token, json: { key, names: { en: "X" } } });
      const { body } = await expectProblem(res, 400, "VALIDATION_FAILED");
      expect(body.errors?.[0]?.pointer).toBe("/key");
      const list = await call("/v1/admin/allowlists", { method: "POST", token, json: { name: key, kind: "user" } });
      const problem = await expectProblem(list, 400, "VALIDATION_FAILED");
      expect(problem.body.errors?.[0]?.pointer).toBe("/name");
    }
    expect(await count("select count(*) as n from mini_programs where key in ('mp_shadow', 'al_list', 'REL_x')")).toBe(
      0,
    );
    expect(await count("select count(*) as n from allowlists where name in ('mp_shadow', 'al_list', 'REL_x')")).toBe(0);
  });
});
