// Editing a mini program: optimistic concurrency, update-mode rules, who may, audit, delivery.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { approvalContent, legacyApprovalContent } from "../../src/domain/approval";
import { webCryptoHasher } from "../../src/edge/crypto";
import {
  auditCount,
  createApp,
  createMiniProgram,
  createReleaseRequest,
  expectJson,
  expectProblem,
  type MiniProgramJson,
  releaseFull,
  transition,
  transitionRequest,
  uploadAndRelease,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace } from "../support/workspace";

interface Edited extends MiniProgramJson {
  names: Record<string, string>;
  config: Record<string, unknown>;
  minUsableVersion: string | null;
  defaultUpdateMode: string;
  rowVersion: number;
}

const patch = (token: string, key: string, json: unknown, headers: Record<string, string> = {}) =>
  call(`/v1/admin/mini-programs/${key}`, { method: "PATCH", token, json, headers });

async function checkOne(appKey: string, id: string, version: string | null = null) {
  const res = await call("/v1/check", {
    method: "POST",
    json: { appId: appKey, env: "prod", deviceId: "d-1", appVersion: "8.0.0", miniPrograms: [{ id, version }] },
  });
  const body = await expectJson<{
    results: { action: string; updateMode?: string; config?: Record<string, unknown> }[];
  }>(res, 200);
  return body.results[0];
}

describe("editing a mini program", () => {
  it("changes what is sent, answers a new ETag and audits before and after", async () => {
    const ws = await makeWorkspace();
    const mp = await createMiniProgram(ws.token);
    const got = await call(`/v1/admin/mini-programs/${mp.key}`, { token: ws.token });
    expect(got.headers.get("etag")).toBe('"1"');
    const before = await auditCount(ws.workspaceId);
    const edited = await expectJson<Edited>(
      await patch(
        ws.token,
        mp.key,
        { names: { en: "Pay", "zh-CN": "支付" }, config: { switches: { newCheckout: "on" } } },
        { "if-match": '"1"' },
      ),
      200,
    );
    expect(edited).toMatchObject({ names: { en: "Pay", "zh-CN": "支付" }, rowVersion: 2 });
    expect(edited.config).toEqual({ switches: { newCheckout: "on" } });
    const again = await call(`/v1/admin/mini-programs/${mp.key}`, { token: ws.token });
    expect(again.headers.get("etag")).toBe('"2"');
    expect(await auditCount(ws.workspaceId)).toBe(before + 1);
    const log = await expectJson<{ items: { action: string; before: unknown; after: unknown }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${mp.id}&action=mini_program.update`, { token: ws.token }),
      200,
    );
    expect(log.items[0]?.before).toMatchObject({ names: { en: expect.any(String) }, config: {} });
    expect(log.items[0]?.after).toMatchObject({ config: { switches: { newCheckout: "on" } } });
  });

  it("refuses a stale If-Match or rowVersion with 409 and writes nothing", async () => {
    const ws = await makeWorkspace();
    const mp = await createMiniProgram(ws.token);
    await expectJson(await patch(ws.token, mp.key, { names: { en: "One" } }), 200);
    const before = await auditCount(ws.workspaceId);
    await expectProblem(
      await patch(ws.token, mp.key, { names: { en: "Two" } }, { "if-match": '"1"' }),
      409,
      "CONFLICT",
    );
    await expectProblem(await patch(ws.token, mp.key, { names: { en: "Two" }, rowVersion: 1 }), 409, "CONFLICT");
    const { body } = await expectProblem(
      await patch(ws.token, mp.key, { names: { en: "Two" } }, { "if-match": "yesterday" }),
      400,
      "VALIDATION_FAILED",
    );
    expect(body.errors?.[0]?.pointer).toBe("/headers/if-match");
    expect(await auditCount(ws.workspaceId)).toBe(before);
    const now = await expectJson<Edited>(await call(`/v1/admin/mini-programs/${mp.key}`, { token: ws.token }), 200);
    expect(now).toMatchObject({ names: { en: "One" }, rowVersion: 2 });
  });

  it("refuses an update mode the type or origin cannot carry, at creation too (422, never a silent default)", async () => {
    const ws = await makeWorkspace();
    const h5 = await createMiniProgram(ws.token, undefined, { type: "h5" });
    const refused = await patch(ws.token, h5.key, { defaultUpdateMode: "sync" });
    const { body } = await expectProblem(refused, 422, "UPDATE_MODE_NOT_ALLOWED");
    expect(body.errors?.[0]?.pointer).toBe("/defaultUpdateMode");
    expect((await patch(ws.token, h5.key, { defaultUpdateMode: "default" })).status).toBe(200);
    await expectProblem(
      await call("/v1/admin/mini-programs", {
        method: "POST",
        token: ws.token,
        json: { key: "ext-1", names: { en: "x" }, origin: "external", defaultUpdateMode: "async" },
      }),
      422,
      "UPDATE_MODE_NOT_ALLOWED",
    );
    const app = await createApp(ws.token);
    await uploadVersion(ws.token, h5.key, "1.0.0");
    await expectProblem(
      await createReleaseRequest(ws.token, {
        miniProgramId: h5.key,
        version: "1.0.0",
        appId: app.key,
        env: "prod",
        updateMode: "sync",
      }),
      422,
      "UPDATE_MODE_NOT_ALLOWED",
    );
    const dsl = await createMiniProgram(ws.token);
    expect((await patch(ws.token, dsl.key, { defaultUpdateMode: "sync" })).status).toBe(200);
  });

  it("is for workspace admins and the mini program's admins only", async () => {
    const ws = await makeWorkspace();
    const mine = await createMiniProgram(ws.token);
    const other = await createMiniProgram(ws.token);
    const mpAdmin = await addMember(ws.workspaceId, "developer", { [mine.id]: "admin" });
    const mpDev = await addMember(ws.workspaceId, "developer", { [mine.id]: "developer" });
    const reviewer = await addMember(ws.workspaceId, "reviewer");
    expect((await patch(mpAdmin.token, mine.key, { names: { en: "Mine" } })).status).toBe(200);
    await expectProblem(await patch(mpAdmin.token, other.key, { names: { en: "No" } }), 403, "FORBIDDEN");
    await expectProblem(await patch(mpDev.token, mine.key, { names: { en: "No" } }), 403, "FORBIDDEN");
    await expectProblem(await patch(reviewer.token, mine.key, { names: { en: "No" } }), 403, "FORBIDDEN");
  });

  it("delivers a new configuration and minimum usable version to devices", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    await releaseFull(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0");
    await releaseFull(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.1.0");
    expect((await checkOne(app.key, mp.key, "1.0.0"))?.updateMode).toBe("default");
    await expectJson(
      await patch(ws.token, mp.key, { config: { switches: { dark: "on" } }, minUsableVersion: "1.1.0" }),
      200,
    );
    const result = await checkOne(app.key, mp.key, "1.0.0");
    expect(result).toMatchObject({ action: "update", updateMode: "sync" });
    expect(JSON.stringify(result?.config)).toContain('"dark":"on"');
  });

  describe("editing a release", () => {
    const patchRelease = (token: string, id: string, json: unknown, headers: Record<string, string> = {}) =>
      call(`/v1/admin/releases/${id}`, { method: "PATCH", token, json, headers });

    it("changes configuration and mode while created, with If-Match, audited; frozen once submitted or live", async () => {
      const ws = await makeWorkspace();
      const app = await createApp(ws.token);
      const mp = await createMiniProgram(ws.token);
      const release = await uploadAndRelease(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0");
      const got = await call(`/v1/admin/releases/${release.id}`, { token: ws.token });
      expect(got.headers.get("etag")).toBe('"1"');
      const edited = await expectJson<{ config: unknown; updateMode: string; rowVersion: number }>(
        await patchRelease(
          ws.token,
          release.id,
          { config: { switches: { x: "1" } }, updateMode: "sync" },
          { "if-match": '"1"' },
        ),
        200,
      );
      expect(edited).toMatchObject({ config: { switches: { x: "1" } }, updateMode: "sync", rowVersion: 2 });
      const before = await auditCount(ws.workspaceId);
      await expectProblem(
        await patchRelease(ws.token, release.id, { updateMode: "async" }, { "if-match": '"1"' }),
        409,
        "CONFLICT",
      );
      expect(await auditCount(ws.workspaceId)).toBe(before);
      await transition(ws.token, release.id, "in_review");
      await expectProblem(await patchRelease(ws.token, release.id, { updateMode: "async" }), 409, "INVALID_TRANSITION");
      await transition(ws.token, release.id, "approved");
      await transition(ws.token, release.id, "full");
      const { body } = await expectProblem(
        await patchRelease(ws.token, release.id, { updateMode: "async" }),
        409,
        "INVALID_TRANSITION",
      );
      expect(body.detail).toContain("make a new release");
      // The delivered mode is the one edited before submission.
      expect(await checkOne(app.key, mp.key, null)).toMatchObject({ action: "update", updateMode: "sync" });
    });

    it("refuses a mode the mini program cannot carry", async () => {
      const ws = await makeWorkspace();
      const app = await createApp(ws.token);
      const h5 = await createMiniProgram(ws.token, undefined, { type: "h5" });
      const release = await uploadAndRelease(ws.token, { miniProgram: h5.key, appKey: app.key, env: "prod" }, "1.0.0");
      await expectProblem(
        await patchRelease(ws.token, release.id, { updateMode: "sync" }),
        422,
        "UPDATE_MODE_NOT_ALLOWED",
      );
    });
  });
});

describe("approvals bound to what was approved", () => {
  const patchRelease = (token: string, id: string, json: unknown) =>
    call(`/v1/admin/releases/${id}`, { method: "PATCH", token, json });

  async function approved() {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    const release = await uploadAndRelease(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0");
    await transition(ws.token, release.id, "in_review");
    await transition(ws.token, release.id, "approved");
    return { ws, app, mp, release };
  }

  it("a rollout set after approval keeps it; an approval recorded before rollouts counted as no targeting holds", async () => {
    const { ws, release } = await approved();
    const rollout = await call(`/v1/admin/releases/${release.id}/rollout`, {
      method: "PUT",
      token: ws.token,
      json: { basisPoints: 500 },
    });
    expect(rollout.status, await rollout.text()).toBe(200);
    // As an upgrade finds it: the hash an older version stored for this content ({} for the targeting).
    const row = await env.DB.prepare("select * from releases where id = ?")
      .bind(release.id)
      .first<Record<string, string>>();
    const content = {
      versionId: row?.version_id ?? "",
      appId: row?.app_id ?? "",
      environmentId: row?.environment_id ?? "",
      config: JSON.parse(row?.config ?? "{}"),
      updateMode: row?.update_mode ?? "",
      targeting: JSON.parse(row?.targeting ?? "null"),
    };
    expect(legacyApprovalContent(content)).not.toBe(approvalContent(content));
    const legacy = await webCryptoHasher.sha256Hex(legacyApprovalContent(content));
    await env.DB.prepare("update releases set approved_hash = ? where id = ?").bind(legacy, release.id).run();
    expect(await transition(ws.token, release.id, "canary")).toMatchObject({ status: "canary" });
  });

  it("an edit of an approved release sends it back to created, audited; it must be approved again", async () => {
    const { ws, release } = await approved();
    const edited = await expectJson<{ status: string }>(
      await patchRelease(ws.token, release.id, { config: { switches: { late: "edit" } } }),
      200,
    );
    expect(edited.status).toBe("created");
    await expectProblem(await transitionRequest(ws.token, release.id, "full"), 409, "INVALID_TRANSITION");
    const log = await expectJson<{ items: { action: string; after: { status?: string } }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${release.id}&action=release.update`, { token: ws.token }),
      200,
    );
    expect(log.items[0]?.after.status).toBe("created");
    await transition(ws.token, release.id, "in_review");
    await transition(ws.token, release.id, "approved");
    expect((await transitionRequest(ws.token, release.id, "full")).status).toBe(200);
  });

  it("a targeting change of lists, filters or window resets the approval; a rollout change does not", async () => {
    const { ws, release } = await approved();
    const rollout = await call(`/v1/admin/releases/${release.id}/rollout`, {
      method: "PUT",
      token: ws.token,
      json: { basisPoints: 500 },
    });
    expect(await expectJson<{ status: string }>(rollout, 200)).toMatchObject({ status: "approved" });
    const targeting = await call(`/v1/admin/releases/${release.id}/targeting`, {
      method: "PUT",
      token: ws.token,
      json: {
        rules: [{ attribute: "country", operator: "include", values: ["DE"] }],
        percentage: { basisPoints: 500 },
      },
    });
    expect(await expectJson<{ status: string }>(targeting, 200)).toMatchObject({ status: "created" });
  });

  it("refuses to send out an approved release whose content changed behind the approval", async () => {
    const { ws, release } = await approved();
    // Nothing in the API changes an approved release without resetting it: change the row directly.
    await env.DB.prepare("update releases set config = ? where id = ?")
      .bind(JSON.stringify({ switches: { sneaked: "in" } }), release.id)
      .run();
    const { body } = await expectProblem(await transitionRequest(ws.token, release.id, "canary"), 409, "CONFLICT");
    expect(body.detail).toContain("changed since it was approved");
  });

  it("an approved release can be cancelled; a rejection's reason stays on the release", async () => {
    const { ws, release } = await approved();
    expect((await transitionRequest(ws.token, release.id, "cancelled")).status).toBe(200);
    const other = await approved();
    const r = other.release;
    // The preview setting is not approved content: the release stays approved.
    expect(
      await expectJson<{ status: string }>(await patchRelease(other.ws.token, r.id, { previewTestersOnly: true }), 200),
    ).toMatchObject({ status: "approved" });
    // An edit of its content sends the approved release back to created, to be submitted again.
    expect(
      await expectJson<{ status: string }>(
        await patchRelease(other.ws.token, r.id, { config: { switches: { x: "1" } } }),
        200,
      ),
    ).toMatchObject({ status: "created" });
    await transition(other.ws.token, r.id, "in_review");
    await transition(other.ws.token, r.id, "rejected", "needs a smaller config");
    await transition(other.ws.token, r.id, "created");
    await transition(other.ws.token, r.id, "in_review");
    const approvedAgain = await transition(other.ws.token, r.id, "approved");
    expect(approvedAgain).toMatchObject({ reviewReason: "needs a smaller config" });
  });
});
