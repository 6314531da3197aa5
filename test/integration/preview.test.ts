// Test QR codes and preview tokens: a device presenting a code's token gets a release that is not
// live, within its compatibility range, only while the token is current (docs/preview.md).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hmacPreviewTokens } from "../../src/edge/preview-tokens";
import {
  auditCountForRequest as auditRowsFor,
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  transition,
  uploadVersion,
} from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";

interface QrCode {
  id: string;
  kind: "default" | "custom";
  pagePath: string;
  query: Record<string, string>;
  previewable: boolean;
  link: string | null;
  token: string | null;
  expiresAt: number | null;
}
interface CheckResult {
  id: string;
  action: string;
  version?: string;
  releaseId?: string;
  config?: { switches: Record<string, string>; internalTesters: string[] };
}
interface Explained {
  action: string;
  reason: string;
  version?: string;
  preview?: string;
}

const codesPath = (releaseId: string) => `/v1/admin/releases/${releaseId}/qr-codes`;

async function setup(compat = "*") {
  const ws = await makeWorkspace();
  const app = await createApp(ws.token);
  const mp = await createMiniProgram(ws.token);
  await uploadVersion(ws.token, mp.key, "1.0.0");
  await uploadVersion(ws.token, mp.key, "1.1.0", compat);
  const release = await createRelease(ws.token, {
    miniProgramId: mp.key,
    version: "1.1.0",
    appId: app.key,
    env: "test",
    config: { switches: { banner: "on" }, internalTesters: ["alice"] },
  });
  return { ws, app, mp, release };
}

type Fx = Awaited<ReturnType<typeof setup>>;

async function listCodes(fx: Fx, releaseId = fx.release.id) {
  return (await expectJson<{ items: QrCode[] }>(await call(codesPath(releaseId), { token: fx.ws.token }), 200)).items;
}

async function codeDetails(fx: Fx, codeId: string, releaseId = fx.release.id) {
  return expectJson<QrCode>(await call(`${codesPath(releaseId)}/${codeId}`, { token: fx.ws.token }), 200);
}

async function defaultCode(fx: Fx) {
  const [code] = await listCodes(fx);
  if (code === undefined) throw new Error("no default code");
  return codeDetails(fx, code.id);
}

/** A check body for one device on 1.0.0; `over` sets top-level fields, `over.mp` the mini program's. */
function device(fx: Fx, previewToken: string | null, over: Record<string, unknown> = {}) {
  const { mp, ...top } = over;
  return {
    appId: fx.app.key,
    env: "test",
    deviceId: "dev-1",
    appVersion: "8.0.0",
    ...top,
    miniPrograms: [{ id: fx.mp.key, version: "1.0.0", ...(previewToken ? { previewToken } : {}), ...(mp ?? {}) }],
  };
}

async function check(fx: Fx, previewToken: string | null, over: Record<string, unknown> = {}): Promise<CheckResult> {
  const res = await call("/v1/check", { method: "POST", json: device(fx, previewToken, over) });
  const [result] = (await expectJson<{ results: CheckResult[] }>(res, 200)).results;
  return result as CheckResult;
}

async function explain(fx: Fx, previewToken: string | null, over: Record<string, unknown> = {}): Promise<Explained> {
  const json = device(fx, previewToken, over);
  const res = await call("/v1/admin/explain", { method: "POST", token: fx.ws.token, json });
  const [result] = (await expectJson<{ results: Explained[] }>(res, 200)).results;
  return result as Explained;
}

describe("test QR codes", () => {
  it("a new release has a default code whose link names the target and carries a token", async () => {
    const fx = await setup();
    const codes = await listCodes(fx);
    expect(codes.map((c) => c.kind)).toEqual(["default"]);
    const code = await defaultCode(fx);
    expect(code.previewable).toBe(true);
    const link = new URL(code.link ?? "");
    expect(link.protocol).toBe("updraft:");
    expect(Object.fromEntries(link.searchParams)).toEqual({
      app: fx.app.key,
      env: "test",
      mp: fx.mp.key,
      version: "1.1.0",
      token: code.token,
    });
    expect(code.expiresAt).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);
  });

  it("a device with the token gets the created release; without it, nothing", async () => {
    const fx = await setup();
    const { token } = await defaultCode(fx);
    expect((await check(fx, null)).action).toBe("none");
    const result = await check(fx, token);
    expect(result).toMatchObject({ action: "update", version: "1.1.0", releaseId: fx.release.id });
    expect(result.config?.switches).toEqual({ banner: "on" });
    expect(await explain(fx, token)).toMatchObject({ action: "update", reason: "PREVIEW", preview: "APPLIED" });
    // A device already on the previewed version is up to date; one on a newer version is taken back to it.
    await uploadVersion(fx.ws.token, fx.mp.key, "1.2.0");
    expect((await check(fx, token, { mp: { version: "1.1.0" } })).action).toBe("none");
    expect(await check(fx, token, { mp: { version: "1.2.0" } })).toMatchObject({
      action: "rollback",
      version: "1.1.0",
    });
  });

  it("any edit of the release makes older links stale; a fresh read works with the new content", async () => {
    const fx = await setup();
    const old = (await defaultCode(fx)).token;
    const res = await call(`/v1/admin/releases/${fx.release.id}`, {
      method: "PATCH",
      token: fx.ws.token,
      json: { config: { switches: { banner: "off" } } },
    });
    await expectJson(res, 200);
    expect((await check(fx, old)).action).toBe("none");
    expect(await explain(fx, old)).toMatchObject({ action: "none", preview: "STALE" });
    const fresh = (await defaultCode(fx)).token;
    expect(fresh).not.toBe(old);
    expect((await check(fx, fresh)).config?.switches).toEqual({ banner: "off" });
  });

  it("refuses expired, forged and revoked tokens, and versions outside range or failed", async () => {
    const fx = await setup(">=9.0.0");
    const code = await defaultCode(fx);
    const token = code.token ?? "";
    // Incompatible host app, then a compatible one.
    expect(await explain(fx, token)).toMatchObject({ action: "none", preview: "INCOMPATIBLE_APP_VERSION" });
    expect((await check(fx, token, { appVersion: "9.1.0" })).version).toBe("1.1.0");
    expect(await explain(fx, token, { appVersion: "9.1.0", mp: { failed: ["1.1.0"] } })).toMatchObject({
      preview: "FAILED_ON_DEVICE",
    });
    // Expired: the same code and content, minted in the past with the service's key.
    const [codeId, , hash] = token.split(".");
    const tokens = hmacPreviewTokens(env.SIGNING_KEY_SEED);
    const expired = tokens?.mint({
      codeId: codeId ?? "",
      expiresAt: Math.floor(Date.now() / 1000) - 1,
      hash: hash ?? "",
    });
    expect(await explain(fx, expired ?? "", { appVersion: "9.1.0" })).toMatchObject({ preview: "EXPIRED" });
    // Forged: a later expiry without the key.
    const parts = token.split(".");
    const forged = [parts[0], (Number.parseInt(parts[1] ?? "0", 36) + 1000).toString(36), parts[2], parts[3]].join(".");
    expect(await explain(fx, forged, { appVersion: "9.1.0" })).toMatchObject({ preview: "INVALID" });
    expect((await check(fx, forged, { appVersion: "9.1.0" })).action).toBe("none");
    // Revoked: deleting the code.
    const del = await call(`${codesPath(fx.release.id)}/${code.id}`, { method: "DELETE", token: fx.ws.token });
    expect(del.status).toBe(204);
    expect(await explain(fx, token, { appVersion: "9.1.0" })).toMatchObject({ preview: "UNKNOWN_CODE" });
    expect((await listCodes(fx)).length).toBe(0);
  });

  it("a release may limit preview to its internal testers' user ids", async () => {
    const fx = await setup();
    const res = await call(`/v1/admin/releases/${fx.release.id}`, {
      method: "PATCH",
      token: fx.ws.token,
      json: { previewTestersOnly: true },
    });
    expect((await expectJson<{ previewTestersOnly: boolean }>(res, 200)).previewTestersOnly).toBe(true);
    const { token } = await defaultCode(fx);
    expect((await check(fx, token, { userId: "alice" })).version).toBe("1.1.0");
    expect((await check(fx, token, { userId: "bob" })).action).toBe("none");
    expect(await explain(fx, token)).toMatchObject({ preview: "NOT_A_TESTER" });
  });

  it("works in review and approved, and ends once the release goes out", async () => {
    const fx = await setup();
    const { token } = await defaultCode(fx);
    await transition(fx.ws.token, fx.release.id, "in_review");
    expect((await check(fx, token)).version).toBe("1.1.0");
    await transition(fx.ws.token, fx.release.id, "approved");
    expect((await check(fx, token)).version).toBe("1.1.0");
    await transition(fx.ws.token, fx.release.id, "full");
    // Live now: the ordinary decision answers, and the release has no previews.
    expect(await explain(fx, token)).toMatchObject({ reason: "UPDATE_AVAILABLE", preview: "UNKNOWN_CODE" });
    const [code] = await listCodes(fx);
    const details = await codeDetails(fx, code?.id ?? "");
    expect(details).toMatchObject({ previewable: false, link: null, token: null });
    await expectProblem(
      await call(`${codesPath(fx.release.id)}/${code?.id}/png`, { token: fx.ws.token }),
      409,
      "RELEASE_NOT_PREVIEWABLE",
    );
    await expectProblem(
      await call(codesPath(fx.release.id), { method: "POST", token: fx.ws.token, json: {} }),
      409,
      "RELEASE_NOT_PREVIEWABLE",
    );
  });

  it("custom codes open a page with parameters; the default code can be restored once", async () => {
    const fx = await setup();
    const created = await expectJson<QrCode>(
      await call(codesPath(fx.release.id), {
        method: "POST",
        token: fx.ws.token,
        json: { pagePath: "pages/cart/index", query: { sku: "42", from: "qr" }, ttlSeconds: 3600 },
      }),
      201,
    );
    expect(created).toMatchObject({ kind: "custom", pagePath: "pages/cart/index" });
    const link = new URL(created.link ?? "");
    expect(link.searchParams.get("page")).toBe("pages/cart/index");
    expect(Object.fromEntries(new URLSearchParams(link.searchParams.get("query") ?? ""))).toEqual({
      sku: "42",
      from: "qr",
    });
    expect(created.expiresAt).toBeLessThanOrEqual(Date.now() + 3600 * 1000 + 1000);
    expect((await check(fx, created.token)).version).toBe("1.1.0");

    const [def] = (await listCodes(fx)).filter((c) => c.kind === "default");
    await call(`${codesPath(fx.release.id)}/${def?.id}`, { method: "DELETE", token: fx.ws.token });
    const restore = () =>
      call(codesPath(fx.release.id), { method: "POST", token: fx.ws.token, json: { kind: "default" } });
    expect((await expectJson<QrCode>(await restore(), 201)).kind).toBe("default");
    await expectProblem(await restore(), 409, "CONFLICT");
    expect((await listCodes(fx)).map((c) => c.kind).sort()).toEqual(["custom", "default"]);
  });

  it("downloads as SVG and PNG, never cached", async () => {
    const fx = await setup();
    const [code] = await listCodes(fx);
    const svg = await call(`${codesPath(fx.release.id)}/${code?.id}/svg`, { token: fx.ws.token });
    expect(svg.status).toBe(200);
    expect(svg.headers.get("content-type")).toBe("image/svg+xml");
    expect(svg.headers.get("cache-control")).toBe("no-store");
    expect(await svg.text()).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const png = await call(`${codesPath(fx.release.id)}/${code?.id}/png?scale=2`, { token: fx.ws.token });
    expect(png.status).toBe(200);
    expect(png.headers.get("content-type")).toBe("image/png");
    const bytes = new Uint8Array(await png.arrayBuffer());
    expect([...bytes.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const width = new DataView(bytes.buffer).getUint32(16);
    const big = new Uint8Array(
      await (await call(`${codesPath(fx.release.id)}/${code?.id}/png?scale=4`, { token: fx.ws.token })).arrayBuffer(),
    );
    expect(new DataView(big.buffer).getUint32(16)).toBe(width * 2);
  });

  it("validates codes and is audited", async () => {
    const fx = await setup();
    const post = (json: unknown) => call(codesPath(fx.release.id), { method: "POST", token: fx.ws.token, json });
    await expectProblem(await post({ pagePath: "pages/<script>" }), 400, "VALIDATION_FAILED");
    await expectProblem(await post({ ttlSeconds: 10 }), 400, "VALIDATION_FAILED");
    await expectProblem(await post({ unknown: 1 }), 400, "VALIDATION_FAILED");
    await expectProblem(await post({ kind: "default", pagePath: "pages/a" }), 400, "VALIDATION_FAILED");
    // Longer than a phone scans reliably: refused before anything is written.
    const query = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, "v".repeat(200)]));
    await expectProblem(await post({ pagePath: "pages/a", query }), 400, "VALIDATION_FAILED");
    await expectProblem(
      await call(`${codesPath(fx.release.id)}?x=1`, { token: fx.ws.token }),
      400,
      "VALIDATION_FAILED",
    );
    await expectProblem(await call(`${codesPath(fx.release.id)}/qr_nope`, { token: fx.ws.token }), 404, "NOT_FOUND");
    await expectJson(await post({ pagePath: "pages/a" }), 201);
    const audit = await expectJson<{ items: { action: string }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${fx.release.id}`, { token: fx.ws.token }),
      200,
    );
    expect(audit.items.map((a) => a.action)).toContain("release.qr_code.create");
  });

  it("a code's token previews only its own release: presented for another mini program it is unknown", async () => {
    const fx = await setup();
    const other = await setup();
    const { token } = await defaultCode(other);
    expect(await explain(fx, token)).toMatchObject({ action: "none", preview: "UNKNOWN_CODE" });
    expect((await check(fx, token)).action).toBe("none");
  });
});

describe("previews and the delivery part's size bound", () => {
  it("counts releases that can be previewed: a release that would outgrow the part is refused, writing nothing", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token, ["prod"]);
    const mp = await createMiniProgram(ws.token);
    // About 60 KB of configuration per release: the test bound (2 MiB) holds about 34 of them.
    const switches = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`s${i}`, "x".repeat(1000)]));
    let refusedAt = -1;
    for (let i = 0; i < 45 && refusedAt < 0; i++) {
      await uploadVersion(ws.token, mp.key, `1.${i}.0`);
      const res = await call("/v1/admin/releases", {
        method: "POST",
        token: ws.token,
        json: { miniProgramId: mp.key, version: `1.${i}.0`, appId: app.key, env: "prod", config: { switches } },
      });
      if (res.status === 201) continue;
      const { body } = await expectProblem(res, 422, "SNAPSHOT_TOO_LARGE");
      expect(await auditRowsFor(body.requestId)).toBe(0);
      refusedAt = i;
    }
    expect(refusedAt).toBeGreaterThan(25);
    const list = await expectJson<{ items: unknown[] }>(
      await call(`/v1/admin/releases?miniProgramId=${mp.key}&limit=500`, { token: ws.token }),
      200,
    );
    expect(list.items).toHaveLength(refusedAt);
  }, 60_000);
});
