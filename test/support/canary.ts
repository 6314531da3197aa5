import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { createApp, createMiniProgram, createRelease, expectJson, transition, uploadVersion } from "./admin-factories";
import { BASE, call } from "./workspace";

/** A mini program with 1.0.0 in full release and 1.1.0 as a canary release carrying `targeting`. */
export async function canaryFixture(token: string, targeting: Record<string, unknown>, compat = "*") {
  const app = await createApp(token);
  const mp = await createMiniProgram(token);
  const target = { miniProgramId: mp.key, appId: app.key, env: "prod" };
  await uploadVersion(token, mp.key, "1.0.0", compat);
  await uploadVersion(token, mp.key, "1.1.0", compat);
  const base = await createRelease(token, { ...target, version: "1.0.0" });
  for (const to of ["in_review", "approved", "full"]) await transition(token, base.id, to);
  const canary = await createRelease(token, { ...target, version: "1.1.0" });
  const saved = await call(`/v1/admin/releases/${canary.id}/targeting`, { method: "PUT", token, json: targeting });
  await expectJson(saved, 200);
  for (const to of ["in_review", "approved", "canary"]) await transition(token, canary.id, to);
  return { appKey: app.key, mpKey: mp.key, releaseId: canary.id };
}

export interface DeviceInput {
  deviceId: string;
  userId?: string;
  appVersion?: string;
  brand?: string;
  model?: string;
  osVersion?: string;
  platform?: string;
  network?: string;
  language?: string;
  attributes?: Record<string, string>;
}

/** The version a device on 1.0.0 is offered ("1.0.0" when none), with optional request.cf and UA. */
export async function offered(
  fx: { appKey: string; mpKey: string },
  device: DeviceInput,
  opts: { cf?: Record<string, string>; userAgent?: string } = {},
): Promise<string> {
  const body = JSON.stringify({
    appId: fx.appKey,
    env: "prod",
    ...device,
    miniPrograms: [{ id: fx.mpKey, version: "1.0.0" }],
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.userAgent) headers["user-agent"] = opts.userAgent;
  const init: RequestInit & { cf?: Record<string, string> } = { method: "POST", headers, body };
  if (opts.cf) init.cf = opts.cf;
  const res = await exports.default.fetch(new Request(`${BASE}/v1/check`, init));
  expect(res.status).toBe(200);
  const [result] = (await res.json<{ results: { action: string; version?: string }[] }>()).results;
  return result?.action === "update" ? (result.version ?? "?") : "1.0.0";
}
