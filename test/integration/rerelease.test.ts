import { describe, expect, it } from "vitest";
import { call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

describe("releasing a version again", () => {
  it("allows a new release of a version whose release ended, e.g. to roll back to it", async () => {
    const { token } = await makeWorkspace();
    const appKey = uniqueKey("rr");
    await call("/v1/admin/apps", { method: "POST", token, json: { key: appKey, name: "x", platforms: ["ios"] } });
    await call("/v1/admin/mini-programs", { method: "POST", token, json: { key: "pay", names: { en: "Pay" } } });
    for (const version of ["1.0.0", "1.1.0"]) {
      await call(`/v1/admin/mini-programs/pay/versions?version=${version}`, {
        method: "POST",
        token,
        headers: { "content-type": "application/zip" },
        body: makeZip({ "index.js": version }),
      });
    }
    const release = async (version: string, rollback = false) => {
      const res = await call("/v1/admin/releases", {
        method: "POST",
        token,
        json: { miniProgramId: "pay", version, appId: appKey, env: "prod", rollback },
      });
      return { status: res.status, body: await res.json<{ id: string; seq: number }>() };
    };
    const full = async (id: string) => {
      for (const to of ["in_review", "approved", "full"]) {
        expect(
          (await call(`/v1/admin/releases/${id}/transitions`, { method: "POST", token, json: { to } })).status,
        ).toBe(200);
      }
    };
    const first = await release("1.0.0");
    await full(first.body.id);
    expect((await release("1.0.0")).status).toBe(409); // the first release is still open
    const second = await release("1.1.0");
    await full(second.body.id); // archives the 1.0.0 release
    const back = await release("1.0.0", true);
    expect(back.status).toBe(201);
    expect(back.body.seq).toBeGreaterThan(second.body.seq);
    await full(back.body.id);
    const check = await call("/v1/check", {
      method: "POST",
      json: { appId: appKey, env: "prod", deviceId: "d", miniPrograms: [{ id: "pay", version: "1.1.0" }] },
    });
    const [result] = (await check.json<{ results: { action: string; version: string }[] }>()).results;
    expect(result).toMatchObject({ action: "rollback", version: "1.0.0" });
  });
});
