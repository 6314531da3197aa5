// PACKAGE_BASE_URL puts a CDN host into every manifest; an invalid value is SERVICE_MISCONFIGURED at
// the first request, never a broken URL. Real local D1, R2 and KV; only the setting differs.
import { beforeAll, describe, expect, it } from "vitest";
import { createApp, createMiniProgram, expectProblem, releaseFull } from "../support/admin-factories";
import { type SendInit, workerWith } from "../support/worker-with";
import { BASE, makeWorkspace } from "../support/workspace";

describe("PACKAGE_BASE_URL", () => {
  let token = "";
  let check = "";
  let sha256 = "";

  beforeAll(async () => {
    ({ token } = await makeWorkspace());
    const app = await createApp(token, ["prod"]);
    const mp = (await createMiniProgram(token)).key;
    const { version } = await releaseFull(token, { miniProgram: mp, appKey: app.key, env: "prod" }, "1.0.0");
    sha256 = version.sha256;
    check = JSON.stringify({ appId: app.key, env: "prod", deviceId: "d-1", miniPrograms: [{ id: mp }] });
  });

  const send = (setting: string, path: string, init: SendInit = {}) =>
    workerWith(() => ({ PACKAGE_BASE_URL: setting }))(path, init);
  const postCheck = (setting: string) =>
    send(setting, "/v1/check", { method: "POST", headers: { "content-type": "application/json" }, body: check });

  it("is used for every package URL in a manifest", async () => {
    const res = await postCheck("https://cdn.example.com/updraft/");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { package?: { url: string } }[] };
    expect(body.results[0]?.package?.url).toBe(`https://cdn.example.com/updraft/v1/packages/${sha256}`);
  });

  it("falls back to the check request's origin when unset", async () => {
    const res = await postCheck("");
    const body = (await res.json()) as { results: { package?: { url: string } }[] };
    expect(body.results[0]?.package?.url).toBe(`${BASE}/v1/packages/${sha256}`);
  });

  it("answers SERVICE_MISCONFIGURED on every request when invalid", async () => {
    for (const bad of ["cdn.example.com", "https://cdn.example.com/?v=1", "ftp://cdn.example.com"]) {
      const { body } = await expectProblem(await postCheck(bad), 503, "SERVICE_MISCONFIGURED");
      expect(body.detail).toContain("PACKAGE_BASE_URL");
      await expectProblem(
        await send(bad, "/v1/admin/apps", { headers: { authorization: `Bearer ${token}` } }),
        503,
        "SERVICE_MISCONFIGURED",
      );
      await expectProblem(await send(bad, "/healthz"), 503, "SERVICE_MISCONFIGURED");
    }
  });
});

describe("GET /healthz", () => {
  it("is never stored by a cache in front of the Worker", async () => {
    const res = await workerWith(() => ({}))("/healthz");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});
