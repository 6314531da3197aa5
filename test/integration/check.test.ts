import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildDeps } from "../../src/deps";
import { answerCheck } from "../../src/http/client/check";
import {
  type AppJson,
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  getRelease,
  goFull,
  type MiniProgramJson,
  releaseFull,
  transition,
  transitionRequest,
  uploadVersion,
} from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";

interface CheckResult {
  id: string;
  action: "update" | "none" | "rollback";
  version?: string;
  releaseId?: string;
  updateMode?: string;
  package?: { url: string; sha256: string; size: number };
  signature?: string | null;
  config?: unknown;
}

interface CheckResponse {
  issuedAt: number;
  expiresAt: number;
  nonce: string | null;
  keyId: string;
  results: CheckResult[];
}

type Installed = { id: string; version?: string | null; failed?: string[] };

let token: string;

beforeAll(async () => {
  ({ token } = await makeWorkspace());
});

async function checkRaw(body: Record<string, unknown>) {
  const res = await call("/v1/check", { method: "POST", json: body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  expect(res.status, text).toBe(200);
  return { res, bytes, text, json: JSON.parse(text) as CheckResponse };
}

/** One device check; `appVersion: undefined` leaves the field out. */
async function check(
  appId: string,
  miniPrograms: Installed[],
  extra: { env?: string; appVersion?: string | undefined; nonce?: string } = {},
) {
  const { env = "prod", ...rest } = extra;
  const appVersion = "appVersion" in extra ? extra.appVersion : "8.1.0";
  const body: Record<string, unknown> = {
    appId,
    env,
    deviceId: "device-1",
    miniPrograms: miniPrograms.map((m) => ({ version: null, ...m })),
    ...rest,
  };
  if (appVersion === undefined) delete body.appVersion;
  else body.appVersion = appVersion;
  return (await checkRaw(body)).json.results;
}

async function checkOne(appId: string, mp: Installed, extra?: Parameters<typeof check>[2]) {
  const [result] = await check(appId, [mp], extra);
  return result as CheckResult;
}

/** A fresh target: a new host app with a new mini program in the shared workspace. */
async function target(): Promise<{
  app: AppJson;
  mp: MiniProgramJson;
  t: { miniProgram: string; appKey: string; env: string };
}> {
  const app = await createApp(token);
  const mp = await createMiniProgram(token);
  return { app, mp, t: { miniProgram: mp.key, appKey: app.key, env: "prod" } };
}

const none = (id: string) => JSON.stringify({ id, action: "none" });

describe("POST /v1/check", () => {
  it("unknown app, environment, mini program and installed version all look exactly like no update", async () => {
    const { app, mp, t } = await target();
    await releaseFull(token, t, "1.0.0");
    const answers = [
      await check(`${app.key}-unknown`, [{ id: mp.key }]),
      await check(app.key, [{ id: mp.key }], { env: "nope" }),
      await check(app.key, [{ id: mp.key }], { env: "test" }),
      await check(app.key, [{ id: `${mp.key}-ghost` }]),
      await check(app.key, [{ id: mp.key, version: "0.9.9" }]),
      await check(app.key, [{ id: mp.key, version: "not-a-version" }]),
    ];
    for (const results of answers) {
      expect(results).toHaveLength(1);
      const [result] = results;
      expect(JSON.stringify(result)).toBe(none(result?.id ?? ""));
    }
    // Ids that name members of every JavaScript object are unknown mini programs like any other.
    const inherited = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];
    const odd = await check(app.key, [...inherited.map((id) => ({ id })), { id: mp.key }]);
    expect(odd.map((r) => JSON.stringify(r))).toEqual([...inherited.map(none), JSON.stringify(odd[5])]);
    expect(odd[5]).toMatchObject({ id: mp.key, action: "update" });
    const unknownApp = await checkRaw({
      appId: `${app.key}-x`,
      env: "prod",
      deviceId: "d",
      miniPrograms: [{ id: "a" }],
    });
    const knownApp = await checkRaw({ appId: app.key, env: "prod", deviceId: "d", miniPrograms: [{ id: "a" }] });
    expect(Object.keys(unknownApp.json)).toEqual(Object.keys(knownApp.json));
    expect(JSON.stringify(unknownApp.json.results)).toBe(JSON.stringify(knownApp.json.results));
    expect(unknownApp.text).toContain(`"results":[${none("a")}]`);
  });

  it("offers a full release with its package, signature and config", async () => {
    const { app, mp, t } = await target();
    const { version, release } = await releaseFull(token, t, "1.0.0");
    const result = await checkOne(app.key, { id: mp.key });
    expect(result).toMatchObject({
      id: mp.key,
      action: "update",
      version: "1.0.0",
      releaseId: release.id,
      updateMode: "default",
      package: { sha256: version.sha256, size: version.size },
      signature: null,
    });
    expect(new URL(result.package?.url ?? "").pathname).toBe(`/v1/packages/${version.sha256}`);
    expect(result.config).toEqual(expect.any(Object));
  });

  describe("host app compatibility", () => {
    let app: AppJson;
    let mp: MiniProgramJson;
    let anyMp: MiniProgramJson;

    beforeAll(async () => {
      ({ app, mp } = await target());
      await releaseFull(token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0", ">=8.0.0 <9.0.0");
      anyMp = await createMiniProgram(token);
      await releaseFull(token, { miniProgram: anyMp.key, appKey: app.key, env: "prod" }, "1.0.0", "*");
    });

    it.each([
      ["7.9.9", "none"],
      ["9.0.0", "none"],
      ["10.1.0", "none"],
      ["8.0.0", "update"],
      ["8.5.3", "update"],
      ["8.2", "update"],
    ])("appVersion %s → %s", async (appVersion, action) => {
      expect((await checkOne(app.key, { id: mp.key }, { appVersion })).action).toBe(action);
    });

    it("a missing appVersion is outside every range but *", async () => {
      const results = await check(app.key, [{ id: mp.key }, { id: anyMp.key }], { appVersion: undefined });
      expect(JSON.stringify(results[0])).toBe(none(mp.key));
      expect(results[1]).toMatchObject({ id: anyMp.key, action: "update", version: "1.0.0" });
    });
  });

  it("never offers a version lower than the installed one, and a device on the latest gets none", async () => {
    const { app, mp, t } = await target();
    await uploadVersion(token, mp.key, "1.0.0");
    await releaseFull(token, t, "2.0.0");
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key, version: "2.0.0" }))).toBe(none(mp.key));
    expect(await checkOne(app.key, { id: mp.key, version: "1.0.0" })).toMatchObject({
      action: "update",
      version: "2.0.0",
    });

    // An older version going full (not a rollback release) supersedes 2.0.0 but is never offered to 2.0.0.
    const older = await createRelease(token, { miniProgramId: mp.key, version: "1.0.0", appId: app.key, env: "prod" });
    await goFull(token, older.id);
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key, version: "2.0.0" }))).toBe(none(mp.key));
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key, version: "1.0.0" }))).toBe(none(mp.key));
    expect(await checkOne(app.key, { id: mp.key })).toMatchObject({ action: "update", version: "1.0.0" });
  });

  it("answers a batch in request order, one result per requested mini program", async () => {
    const app = await createApp(token);
    const mps = [await createMiniProgram(token), await createMiniProgram(token), await createMiniProgram(token)];
    for (const [i, mp] of mps.entries()) {
      await releaseFull(token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, `1.${i}.0`);
    }
    const [a, b, c] = mps.map((m) => m.key) as [string, string, string];
    const request: Installed[] = [
      { id: c },
      { id: "ghost-1" },
      { id: a, version: "1.0.0" },
      { id: b },
      { id: a },
      { id: "ghost-2" },
    ];
    const results = await check(app.key, request);
    expect(results.map((r) => r.id)).toEqual(request.map((r) => r.id));
    expect(results.map((r) => r.action)).toEqual(["update", "none", "none", "update", "update", "none"]);
    expect(results.map((r) => r.version)).toEqual(["1.2.0", undefined, undefined, "1.1.0", "1.0.0", undefined]);
  });

  it("does not offer a version the device reported as failed", async () => {
    const { app, mp, t } = await target();
    await releaseFull(token, t, "1.0.0");
    await releaseFull(token, t, "2.0.0");
    expect(await checkOne(app.key, { id: mp.key, version: "1.0.0" })).toMatchObject({
      action: "update",
      version: "2.0.0",
    });
    const failed = await checkOne(app.key, { id: mp.key, version: "1.0.0", failed: ["2.0.0"] });
    expect(JSON.stringify(failed)).toBe(none(mp.key));
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key, failed: ["2.0.0"] }))).toBe(none(mp.key));
    expect(await checkOne(app.key, { id: mp.key, failed: ["1.5.0"] })).toMatchObject({ version: "2.0.0" });
  });

  it("archives the previous full release when a newer one goes full", async () => {
    const { app, mp, t } = await target();
    const first = await releaseFull(token, t, "1.0.0");
    expect((await getRelease(token, first.release.id)).status).toBe("full");
    const second = await releaseFull(token, t, "1.1.0");
    expect((await getRelease(token, first.release.id)).status).toBe("archived");
    expect((await getRelease(token, second.release.id)).status).toBe("full");
    expect(await checkOne(app.key, { id: mp.key, version: "1.0.0" })).toMatchObject({
      action: "update",
      version: "1.1.0",
      releaseId: second.release.id,
    });
    const listed = await expectJson<{ items: { id: string; status: string }[] }>(
      await call(`/v1/admin/releases?appId=${app.key}&env=prod&miniProgramId=${mp.key}&status=full`, { token }),
      200,
    );
    expect(listed.items.map((r) => r.id)).toEqual([second.release.id]);
  });

  it("an older release cannot go full over a newer full one, not even by continuing (found by review)", async () => {
    const { app, mp, t } = await target();
    await uploadVersion(token, mp.key, "1.0.0");
    const older = await releaseFull(token, t, "1.1.0");
    await transition(token, older.release.id, "paused");
    // Created before the newer one, approved after it went full.
    await uploadVersion(token, mp.key, "1.0.5");
    const early = await createRelease(token, { miniProgramId: mp.key, version: "1.0.5", appId: app.key, env: "prod" });
    const newer = await releaseFull(token, t, "1.2.0");
    const refused = await transitionRequest(token, older.release.id, "full");
    await expectProblem(refused, 409, "INVALID_TRANSITION");
    expect((await getRelease(token, older.release.id)).status).toBe("paused");
    expect((await getRelease(token, newer.release.id)).status).toBe("full");
    expect(await checkOne(app.key, { id: mp.key, version: "1.0.0" })).toMatchObject({ version: "1.2.0" });
    for (const to of ["in_review", "approved"]) await transition(token, early.id, to);
    await expectProblem(await transitionRequest(token, early.id, "full"), 409, "INVALID_TRANSITION");
    expect((await getRelease(token, newer.release.id)).status).toBe("full");
  });

  it("a full release with a narrower compatibility range does not archive the one it cannot replace", async () => {
    const { app, mp, t } = await target();
    await uploadVersion(token, mp.key, "1.0.0");
    const wide = await releaseFull(token, t, "1.1.0", ">=8.0.0");
    const narrow = await releaseFull(token, t, "1.7.0", ">=9.0.0");
    expect((await getRelease(token, wide.release.id)).status).toBe("full");
    expect(await checkOne(app.key, { id: mp.key, version: "1.0.0" }, { appVersion: "8.1.0" })).toMatchObject({
      version: "1.1.0",
    });
    expect(await checkOne(app.key, { id: mp.key, version: "1.0.0" }, { appVersion: "9.2.0" })).toMatchObject({
      version: "1.7.0",
    });
    // One that reaches every host app the older ones reached supersedes both.
    const widest = await releaseFull(token, t, "1.8.0", ">=7.0.0");
    expect((await getRelease(token, wide.release.id)).status).toBe("archived");
    expect((await getRelease(token, narrow.release.id)).status).toBe("archived");
    expect((await getRelease(token, widest.release.id)).status).toBe("full");
  });

  it("a version uploaded after a release went live is known to devices at once (found by review)", async () => {
    const { app, mp, t } = await target();
    await releaseFull(token, t, "1.2.0");
    await uploadVersion(token, mp.key, "1.1.5");
    expect(await checkOne(app.key, { id: mp.key, version: "1.1.5" })).toMatchObject({
      action: "update",
      version: "1.2.0",
    });
  });

  it("pausing a full release stops delivery and continuing restores it", async () => {
    const { app, mp, t } = await target();
    const { release } = await releaseFull(token, t, "1.0.0");
    expect(await checkOne(app.key, { id: mp.key })).toMatchObject({ action: "update", releaseId: release.id });
    const paused = await transition(token, release.id, "paused");
    expect(paused.pausedFrom).toBe("full");
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key }))).toBe(none(mp.key));
    // Devices that have it keep it: no rollback, no other offer.
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key, version: "1.0.0" }))).toBe(none(mp.key));
    await transition(token, release.id, "full");
    expect(await checkOne(app.key, { id: mp.key })).toMatchObject({ action: "update", releaseId: release.id });
  });

  it("a rollback release takes devices on a newer version back to the older one", async () => {
    const { app, mp, t } = await target();
    await uploadVersion(token, mp.key, "1.0.0");
    const newer = await releaseFull(token, t, "2.0.0");
    const rollback = await createRelease(token, {
      miniProgramId: mp.key,
      version: "1.0.0",
      appId: app.key,
      env: "prod",
      rollback: true,
    });
    expect(rollback.rollback).toBe(true);
    expect(rollback.seq).toBeGreaterThan(newer.release.seq);
    // Not live yet: nothing changes for anyone.
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key, version: "2.0.0" }))).toBe(none(mp.key));

    await goFull(token, rollback.id);
    expect((await getRelease(token, newer.release.id)).status).toBe("archived");
    expect(await checkOne(app.key, { id: mp.key, version: "2.0.0" })).toMatchObject({
      action: "rollback",
      version: "1.0.0",
      releaseId: rollback.id,
    });
    expect(JSON.stringify(await checkOne(app.key, { id: mp.key, version: "1.0.0" }))).toBe(none(mp.key));
    expect(await checkOne(app.key, { id: mp.key })).toMatchObject({ action: "update", version: "1.0.0" });
  });

  it("signs the exact response body with the Ed25519 key published at /v1/keys", async () => {
    const { app, mp, t } = await target();
    await releaseFull(token, t, "1.0.0");
    const keys = await expectJson<{ keys: { keyId: string; alg: string; publicKey: string }[] }>(
      await call("/v1/keys"),
      200,
    );
    // The signing key first, then the retired one the test key set still lists (test/support/trust.ts).
    expect(keys.keys.map((k) => k.keyId)).toEqual(["test-key", "test-key-old"]);
    const [key] = keys.keys;
    expect(key?.alg).toBe("Ed25519");

    const { res, bytes, json } = await checkRaw({
      appId: app.key,
      env: "prod",
      deviceId: "d-sig",
      appVersion: "8.1.0",
      nonce: "nonce-123",
      miniPrograms: [{ id: mp.key, version: null }, { id: "ghost" }],
    });
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("updraft-key-id")).toBe(key?.keyId);
    expect(json.keyId).toBe(key?.keyId);
    expect(json.nonce).toBe("nonce-123");
    expect(json.expiresAt - json.issuedAt).toBe(5 * 60 * 1000);

    const fromB64Url = (s: string) =>
      Uint8Array.from(atob(s.replaceAll("-", "+").replaceAll("_", "/")), (ch) => ch.charCodeAt(0));
    const publicKey = await crypto.subtle.importKey(
      "raw",
      fromB64Url(key?.publicKey ?? ""),
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    const signature = fromB64Url(res.headers.get("updraft-signature") ?? "");
    expect(signature.byteLength).toBe(64);
    expect(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, bytes)).toBe(true);
    const tampered = bytes.slice();
    const at = tampered.length - 2;
    tampered[at] = (tampered[at] ?? 0) ^ 1;
    expect(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, tampered)).toBe(false);
  });

  it("gives every answer its own signature and request id, also when several answers exist at once", async () => {
    const { app, mp, t } = await target();
    await releaseFull(token, t, "1.0.0");
    const deps = buildDeps(env);
    const request = (nonce: string) =>
      new Request("http://updraft.test/v1/check", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ appId: app.key, env: "prod", deviceId: "d-h", nonce, miniPrograms: [{ id: mp.key }] }),
      });
    // Both responses exist at once: neither may show the other's headers.
    const first = await answerCheck(request("n-1"), "http://updraft.test/v1/check", deps, "req_first");
    const second = await answerCheck(request("n-2"), "http://updraft.test/v1/check", deps, "req_second");
    expect(first.headers.get("request-id")).toBe("req_first");
    expect(second.headers.get("request-id")).toBe("req_second");
    const sigFirst = first.headers.get("updraft-signature");
    expect(sigFirst).not.toBe(second.headers.get("updraft-signature"));
    for (const r of [first, second]) {
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(r.headers.get("cache-control")).toBe("private, no-store");
      expect(r.headers.get("updraft-key-id")).toBe(deps.signer?.keyId);
    }
    expect(JSON.parse(await first.text()).nonce).toBe("n-1");
    expect(JSON.parse(await second.text()).nonce).toBe("n-2");
    const third = await answerCheck(request("n-3"), "http://updraft.test/v1/check", deps, "req_third");
    expect(first.headers.get("updraft-signature")).toBe(sigFirst);
    expect(third.headers.get("request-id")).toBe("req_third");
  });

  it("answers on the pre-router fast path whatever the query string, and leaves other methods to the router", async () => {
    const { app, mp, t } = await target();
    await releaseFull(token, t, "1.0.0");
    const body = { appId: app.key, env: "prod", deviceId: "d-q", miniPrograms: [{ id: mp.key }] };
    const res = await call("/v1/check?sdk=ios-3.2", { method: "POST", json: body });
    expect(res.status).toBe(200);
    expect(((await res.json()) as CheckResponse).results[0]).toMatchObject({ action: "update", version: "1.0.0" });
    expect((await call("/v1/checks", { method: "POST", json: body })).status).toBe(404);
    expect((await call("/v1/check")).status).toBe(404);
  });
});
