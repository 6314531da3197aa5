// Deleting a version: refused while released, bytes removed when nothing else has them, audited.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  auditCount,
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  releaseFull,
  transition,
  transitionRequest,
  uploadAndRelease,
  uploadRequest,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace } from "../support/workspace";
import { makeZip } from "../support/zip";

const del = (token: string, mp: string, version: string) =>
  call(`/v1/admin/mini-programs/${mp}/versions/${version}`, { method: "DELETE", token });

describe("deleting a version", () => {
  it("is refused while a release of it is live, then removes the bytes and is audited", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    const { version, release } = await releaseFull(
      ws.token,
      { miniProgram: mp.key, appKey: app.key, env: "prod" },
      "1.0.0",
    );
    const before = await auditCount(ws.workspaceId);
    await expectProblem(await del(ws.token, mp.key, "1.0.0"), 409, "VERSION_IN_USE");
    await transition(ws.token, release.id, "paused");
    await expectProblem(await del(ws.token, mp.key, "1.0.0"), 409, "VERSION_IN_USE");
    expect(await auditCount(ws.workspaceId)).toBe(before + 1); // the pause
    await transition(ws.token, release.id, "ended");
    const deleted = await expectJson<{ deletedAt: number | null }>(await del(ws.token, mp.key, "1.0.0"), 200);
    expect(deleted.deletedAt).toBeGreaterThan(0);
    expect((await call(`/v1/packages/${version.sha256}`)).status).toBe(404);
    expect(await env.PACKAGES.head(`packages/${version.sha256}`)).toBeNull();
    const log = await expectJson<{ items: { action: string }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${version.id}&action=version.delete`, { token: ws.token }),
      200,
    );
    expect(log.items).toHaveLength(1);
    // Irreversible: gone for releases and uploads; a second delete is a 404.
    await expectProblem(
      await call("/v1/admin/releases", {
        method: "POST",
        token: ws.token,
        json: { miniProgramId: mp.key, version: "1.0.0", appId: app.key, env: "test" },
      }),
      404,
      "NOT_FOUND",
    );
    await expectProblem(
      await uploadRequest(ws.token, mp.key, "1.0.0", makeZip({ "a.js": "x" })),
      409,
      "VERSION_CONFLICT",
    );
    await expectProblem(await del(ws.token, mp.key, "1.0.0"), 404, "NOT_FOUND");
  });

  it("keeps bytes another version still has", async () => {
    const ws = await makeWorkspace();
    const a = await createMiniProgram(ws.token);
    const b = await createMiniProgram(ws.token);
    const zip = makeZip({ "same.js": "same bytes" });
    const va = await expectJson<{ sha256: string }>(await uploadRequest(ws.token, a.key, "1.0.0", zip), 201);
    await expectJson(await uploadRequest(ws.token, b.key, "1.0.0", zip), 201);
    await expectJson(await del(ws.token, a.key, "1.0.0"), 200);
    expect((await call(`/v1/packages/${va.sha256}`)).status).toBe(200);
    await expectJson(await del(ws.token, b.key, "1.0.0"), 200);
    expect((await call(`/v1/packages/${va.sha256}`)).status).toBe(404);
  });

  it("stops a release of a deleted version from going out; only admins delete", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    await uploadVersion(ws.token, mp.key, "2.0.0");
    const dev = await addMember(ws.workspaceId, "developer", { [mp.id]: "developer" });
    await expectProblem(await del(dev.token, mp.key, "2.0.0"), 403, "FORBIDDEN");
    const release = await createRelease(ws.token, {
      miniProgramId: mp.key,
      version: "2.0.0",
      appId: app.key,
      env: "prod",
    });
    await transition(ws.token, release.id, "in_review");
    await transition(ws.token, release.id, "approved");
    await expectJson(await del(ws.token, mp.key, "2.0.0"), 200);
    await expectProblem(await transitionRequest(ws.token, release.id, "full"), 409, "CONFLICT");
  });
});

describe("deleting an allowlist", () => {
  it("is refused while an open release refers to it, then removes the list and its entries, audited", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    const list = await expectJson<{ id: string; name: string; contentKey?: string }>(
      await call("/v1/admin/allowlists", {
        method: "POST",
        token: ws.token,
        json: { name: `del-${mp.key}`, kind: "user" },
      }),
      201,
    );
    await expectJson(
      await call(`/v1/admin/allowlists/${list.id}/entries`, {
        method: "PUT",
        token: ws.token,
        headers: { "content-type": "text/plain" },
        body: "alice\nbob\n",
      }),
      200,
    );
    const contentKey = (
      await env.DB.prepare("select content_key as k from allowlists where id = ?").bind(list.id).first<{ k: string }>()
    )?.k;
    expect(contentKey).toBeTruthy();
    const release = await uploadAndRelease(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0");
    await expectJson(
      await call(`/v1/admin/releases/${release.id}/targeting`, {
        method: "PUT",
        token: ws.token,
        json: { denylists: [{ kind: "user", listId: list.id }], percentage: { basisPoints: 5000 } },
      }),
      200,
    );
    const reviewer = await addMember(ws.workspaceId, "reviewer");
    await expectProblem(
      await call(`/v1/admin/allowlists/${list.id}`, { method: "DELETE", token: reviewer.token }),
      403,
      "FORBIDDEN",
    );
    await expectProblem(
      await call(`/v1/admin/allowlists/${list.name}`, { method: "DELETE", token: ws.token }),
      409,
      "LIST_IN_USE",
    );
    await transition(ws.token, release.id, "cancelled");
    await expectJson(await call(`/v1/admin/allowlists/${list.name}`, { method: "DELETE", token: ws.token }), 200);
    await expectProblem(await call(`/v1/admin/allowlists/${list.id}`, { token: ws.token }), 404, "NOT_FOUND");
    expect(await env.PACKAGES.head(`allowlists/${contentKey}.txt`)).toBeNull();
    const log = await expectJson<{ items: { action: string }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${list.id}&action=allowlist.delete`, { token: ws.token }),
      200,
    );
    expect(log.items).toHaveLength(1);
  });
});

describe("deleting a release", () => {
  it("works for created, rejected, cancelled and ended releases only, audited", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    const rel = async (version: string, envName = "prod") => {
      await uploadVersion(ws.token, mp.key, version);
      return createRelease(ws.token, { miniProgramId: mp.key, version, appId: app.key, env: envName });
    };
    const remove = (id: string) => call(`/v1/admin/releases/${id}`, { method: "DELETE", token: ws.token });
    const created = await rel("1.0.0");
    await expectJson(await remove(created.id), 200);
    await expectProblem(await call(`/v1/admin/releases/${created.id}`, { token: ws.token }), 404, "NOT_FOUND");
    const log = await expectJson<{ items: { action: string }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${created.id}&action=release.delete`, { token: ws.token }),
      200,
    );
    expect(log.items).toHaveLength(1);

    const inReview = await rel("1.1.0");
    await transition(ws.token, inReview.id, "in_review");
    await expectProblem(await remove(inReview.id), 409, "RELEASE_NOT_DELETABLE");
    await transition(ws.token, inReview.id, "approved");
    await transition(ws.token, inReview.id, "full");
    await expectProblem(await remove(inReview.id), 409, "RELEASE_NOT_DELETABLE");
    await transition(ws.token, inReview.id, "ended");
    await expectJson(await remove(inReview.id), 200);

    // A sync milestone stays.
    await uploadVersion(ws.token, mp.key, "1.2.0");
    const sync = await expectJson<{ id: string }>(
      await call("/v1/admin/releases", {
        method: "POST",
        token: ws.token,
        json: { miniProgramId: mp.key, version: "1.2.0", appId: app.key, env: "prod", updateMode: "sync" },
      }),
      201,
    );
    for (const to of ["in_review", "approved", "full", "ended"]) await transition(ws.token, sync.id, to);
    const { body } = await expectProblem(await remove(sync.id), 409, "RELEASE_NOT_DELETABLE");
    expect(body.detail).toContain("sync");
  });
});
