// With D1 away, every admin route and explain answer 503 SERVICE_UNAVAILABLE with Retry-After, and
// the device check keeps serving from the delivery snapshot in KV. The D1 binding is the real local
// database behind a fault-injecting layer that fails every statement the way an unreachable D1 does
// (miniflare's D1 cannot be made unreachable on cue); KV, R2 and the Durable Object stay real.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp, createMiniProgram, expectProblem, releaseFull } from "../support/admin-factories";
import { type SendInit, workerWith } from "../support/worker-with";
import { makeWorkspace } from "../support/workspace";

/** A D1Database whose every statement fails as an unreachable D1 does; `failing` switches it. */
function unreachableD1(real: D1Database) {
  const state = { failing: true, calls: 0 };
  const fail = async () => {
    state.calls += 1;
    throw new Error("D1_ERROR: Network connection lost.");
  };
  const statement = (s: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(s, {
      get(target, prop) {
        if (prop === "bind") return (...args: unknown[]) => statement(target.bind(...args));
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        return state.failing && ["run", "all", "first", "raw"].includes(String(prop)) ? fail : value.bind(target);
      },
    });
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => statement(target.prepare(sql));
      if (prop === "batch" || prop === "exec") return state.failing ? fail : Reflect.get(target, prop).bind(target);
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, state };
}

describe("D1 unavailable", () => {
  const outage = unreachableD1(env.DB);
  const outageDb = { DB: outage.db };
  const send = workerWith(() => outageDb);
  let token = "";
  let appKey = "";
  let mp = "";
  let releaseId = "";

  beforeAll(async () => {
    ({ token } = await makeWorkspace());
    const app = await createApp(token, ["prod"]);
    appKey = app.key;
    mp = (await createMiniProgram(token)).key;
    ({
      release: { id: releaseId },
    } = await releaseFull(token, { miniProgram: mp, appKey, env: "prod" }, "1.0.0"));
  });

  const check = () => ({
    appId: appKey,
    env: "prod",
    deviceId: "device-1",
    appVersion: "8.0.0",
    miniPrograms: [{ id: mp }],
  });

  const adminRequests = (): [string, SendInit][] => [
    ["/v1/admin/apps", { token }],
    ["/v1/admin/apps", { method: "POST", token, json: { key: "outage-app", name: "Outage" } }],
    ["/v1/admin/mini-programs", { token }],
    [`/v1/admin/mini-programs/${mp}/versions`, { token }],
    ["/v1/admin/releases", { token }],
    [`/v1/admin/releases/${releaseId}`, { token }],
    [`/v1/admin/releases/${releaseId}/transitions`, { method: "POST", token, json: { to: "paused" } }],
    ["/v1/admin/allowlists", { token }],
    ["/v1/admin/audit-logs", { token }],
    ["/v1/admin/explain", { method: "POST", token, json: check() }],
    [
      "/v1/bootstrap",
      {
        method: "POST",
        headers: { "updraft-bootstrap-secret": "test-bootstrap-secret" },
        json: { workspaceName: "W", adminName: "A", adminEmail: "a@example.test" },
      },
    ],
  ];

  it("answers every admin route and explain with 503 SERVICE_UNAVAILABLE and Retry-After", async () => {
    outage.state.failing = true;
    for (const [path, init] of adminRequests()) {
      const before = outage.state.calls;
      const res = await send(path, init);
      const body = await expectProblem(res, 503, "SERVICE_UNAVAILABLE");
      expect(res.headers.get("retry-after"), path).toBe("5");
      expect(JSON.stringify(body), path).not.toContain("Network connection lost");
      expect(outage.state.calls, `${path} reached the database`).toBeGreaterThan(before);
    }
  });

  it("keeps answering device checks from the snapshot while D1 is away", async () => {
    outage.state.failing = true;
    const res = await send("/v1/check", { method: "POST", json: check() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { action: string; version?: string }[] };
    expect(body.results[0]).toMatchObject({ action: "update", version: "1.0.0" });
  });

  it("serves again as soon as D1 is back", async () => {
    outage.state.failing = false;
    const res = await send("/v1/admin/apps", { token });
    expect(res.status).toBe(200);
    outage.state.failing = true;
  });
});
