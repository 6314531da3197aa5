// Mini program removal, the feature catalogue, app and environment deletes, mini program icon,
// category and creator (docs/overview.md).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { d1Store } from "../../src/store/d1-store";
import type { VersionRecord } from "../../src/usecases/ports";
import { releaseFixture } from "../support/access-fixtures";
import {
  type AppJson,
  auditCount,
  count,
  createApp,
  createMiniProgram,
  createRelease,
  createReleaseRequest,
  expectJson,
  expectProblem,
  releaseFull,
  transition,
  transitionRequest,
  uploadRequest,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

interface CheckResult {
  id: string;
  action: string;
  version?: string;
  config?: { features: string[] };
}

async function checkOne(appKey: string, env: string, mpKey: string, version: string | null) {
  const res = await call("/v1/check", {
    method: "POST",
    json: { appId: appKey, env, deviceId: "dev-1", miniPrograms: [{ id: mpKey, version }] },
  });
  return (await expectJson<{ results: CheckResult[] }>(res, 200)).results[0] as CheckResult;
}

/**
 * A release written straight through the store, as a create whose checks ran just before a
 * concurrent delete or removal committed would write it.
 */
async function releaseInStore(
  ws: { workspaceId: string; memberId: string },
  app: AppJson,
  envName: string,
  miniProgramId: string,
  version: string,
) {
  const record = await d1Store(env.DB).findVersion(miniProgramId, version);
  const environmentId = app.environments.find((e) => e.name === envName)?.id ?? "";
  return releaseFixture(
    ws.workspaceId,
    { appId: app.id, environmentId },
    record as VersionRecord,
    "created",
    ws.memberId,
  );
}

const statusOf = async (token: string, releaseId: string) =>
  (await expectJson<{ status: string }>(await call(`/v1/admin/releases/${releaseId}`, { token }), 200)).status;

describe("removing a mini program", () => {
  it("a mini program admin asks, a workspace admin approves: releases close and devices are told to delete it", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    const target = { miniProgram: mp.key, appKey: app.key, env: "prod" };
    const { release: live } = await releaseFull(ws.token, target, "1.0.0");
    await uploadVersion(ws.token, mp.key, "1.1.0");
    const pending = await createRelease(ws.token, {
      miniProgramId: mp.key,
      version: "1.1.0",
      appId: app.key,
      env: "prod",
    });
    expect((await checkOne(app.key, "prod", mp.key, null)).action).toBe("update");

    const mpAdmin = await addMember(ws.workspaceId, "developer");
    await expectJson(
      await call(`/v1/admin/mini-programs/${mp.key}/members/${mpAdmin.memberId}`, {
        method: "PUT",
        token: ws.token,
        json: { role: "admin" },
      }),
      200,
    );
    const ask = (token: string) =>
      call(`/v1/admin/mini-programs/${mp.key}/removal-requests`, { method: "POST", token, json: { reason: "sunset" } });
    const first = await expectJson<{ id: string; status: string }>(await ask(mpAdmin.token), 201);
    expect(first.status).toBe("pending");
    await expectProblem(await ask(mpAdmin.token), 409, "CONFLICT");
    const decide = (id: string, token: string, decision: string) =>
      call(`/v1/admin/removal-requests/${id}/decision`, { method: "POST", token, json: { decision, reason: "ok" } });
    // Only a workspace admin decides.
    await expectProblem(await decide(first.id, mpAdmin.token, "approve"), 403, "FORBIDDEN");
    expect(await expectJson<{ status: string }>(await decide(first.id, ws.token, "reject"), 200)).toMatchObject({
      status: "rejected",
    });
    await expectProblem(await decide(first.id, ws.token, "approve"), 409, "CONFLICT");
    expect((await checkOne(app.key, "prod", mp.key, null)).action).toBe("update");

    // The requester may withdraw a pending request; a withdrawn one cannot be decided.
    const withdrawn = await expectJson<{ id: string }>(await ask(mpAdmin.token), 201);
    const withdraw = () =>
      call(`/v1/admin/removal-requests/${withdrawn.id}`, { method: "DELETE", token: mpAdmin.token });
    expect(await expectJson<{ status: string }>(await withdraw(), 200)).toMatchObject({ status: "withdrawn" });
    await expectProblem(await withdraw(), 409, "CONFLICT");
    await expectProblem(await decide(withdrawn.id, ws.token, "approve"), 409, "CONFLICT");

    const second = await expectJson<{ id: string }>(await ask(mpAdmin.token), 201);
    const listed = await expectJson<{ items: { id: string; status: string }[] }>(
      await call(`/v1/admin/removal-requests?miniProgramId=${mp.key}&status=pending`, { token: ws.token }),
      200,
    );
    expect(listed.items.map((r) => r.id)).toEqual([second.id]);
    const before = await auditCount(ws.workspaceId);
    expect(await expectJson<{ status: string }>(await decide(second.id, ws.token, "approve"), 200)).toMatchObject({
      status: "approved",
    });
    // The decision and one record per closed release.
    expect(await auditCount(ws.workspaceId)).toBe(before + 3);
    expect(await statusOf(ws.token, live.id)).toBe("ended");
    expect(await statusOf(ws.token, pending.id)).toBe("cancelled");
    const closed = await expectJson<{ items: { action: string; before: unknown; after: unknown }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${live.id}`, { token: ws.token }),
      200,
    );
    expect(closed.items.find((a) => a.action === "release.close_on_removal")).toMatchObject({
      before: { status: "full" },
      after: { status: "ended" },
    });

    // Devices that have it are told to delete it; others hear nothing.
    expect((await checkOne(app.key, "prod", mp.key, "1.0.0")).action).toBe("removed");
    // Its releases stay (they carry the removal to devices) and never go out again.
    await expectProblem(
      await call(`/v1/admin/releases/${live.id}`, { method: "DELETE", token: ws.token }),
      409,
      "MINI_PROGRAM_REMOVED",
    );
    // The store refuses a release of it inside the write (a create racing the approval loses)...
    await expect(releaseInStore(ws, app, "prod", mp.id, "1.1.0")).rejects.toThrow(/removed/);
    // ...and a release still open after it (as if written by an older version) cannot go on.
    await env.DB.prepare("update releases set status = 'created' where id = ?").bind(pending.id).run();
    const late = pending;
    await expectProblem(
      await call(`/v1/admin/releases/${late.id}/transitions`, {
        method: "POST",
        token: ws.token,
        json: { to: "in_review" },
      }),
      409,
      "MINI_PROGRAM_REMOVED",
    );
    expect(
      await expectJson<{ status: string }>(await transitionRequest(ws.token, late.id, "cancelled"), 200),
    ).toMatchObject({
      status: "cancelled",
    });
    expect((await checkOne(app.key, "prod", mp.key, null)).action).toBe("none");
    const explained = await expectJson<{ results: { action: string; reason: string }[] }>(
      await call("/v1/admin/explain", {
        method: "POST",
        token: ws.token,
        json: { appId: app.key, env: "prod", deviceId: "d", miniPrograms: [{ id: mp.key, version: "1.0.0" }] },
      }),
      200,
    );
    expect(explained.results[0]).toMatchObject({ action: "removed", reason: "REMOVED" });

    // Read-only from now on, and its key stays taken.
    const got = await expectJson<{ removedAt: number | null }>(
      await call(`/v1/admin/mini-programs/${mp.key}`, { token: ws.token }),
      200,
    );
    expect(got.removedAt).toEqual(expect.any(Number));
    await expectProblem(await ask(ws.token), 409, "MINI_PROGRAM_REMOVED");
    const zip = makeZip({ "index.js": "1" });
    await expectProblem(await uploadRequest(ws.token, mp.key, "2.0.0", zip), 409, "MINI_PROGRAM_REMOVED");
    await expectProblem(
      await call(`/v1/admin/mini-programs/${mp.key}`, {
        method: "PATCH",
        token: ws.token,
        json: { names: { en: "x" } },
      }),
      409,
      "MINI_PROGRAM_REMOVED",
    );
    const release = { miniProgramId: mp.key, version: "1.1.0", appId: app.key, env: "test" };
    await expectProblem(await createReleaseRequest(ws.token, release), 409, "MINI_PROGRAM_REMOVED");
    await expectProblem(
      await call("/v1/admin/mini-programs", {
        method: "POST",
        token: ws.token,
        json: { key: mp.key, names: { en: "again" } },
      }),
      409,
      "CONFLICT",
    );
  });

  it("the member who asked may not approve it alone unless the workspace allows self-approval", async () => {
    const ws = await makeWorkspace("admin", { selfApproval: false });
    const mp = await createMiniProgram(ws.token);
    const asked = await expectJson<{ id: string }>(
      await call(`/v1/admin/mini-programs/${mp.key}/removal-requests`, {
        method: "POST",
        token: ws.token,
        json: { reason: "mine" },
      }),
      201,
    );
    const decide = (decision: string) =>
      call(`/v1/admin/removal-requests/${asked.id}/decision`, { method: "POST", token: ws.token, json: { decision } });
    await expectProblem(await decide("approve"), 403, "FORBIDDEN");
    expect(await expectJson<{ status: string }>(await decide("reject"), 200)).toMatchObject({ status: "rejected" });
  });

  it("a developer may not ask for removal", async () => {
    const ws = await makeWorkspace();
    const mp = await createMiniProgram(ws.token);
    const dev = await addMember(ws.workspaceId, "developer");
    await call(`/v1/admin/mini-programs/${mp.key}/members/${dev.memberId}`, {
      method: "PUT",
      token: ws.token,
      json: { role: "developer" },
    });
    await expectProblem(
      await call(`/v1/admin/mini-programs/${mp.key}/removal-requests`, {
        method: "POST",
        token: dev.token,
        json: { reason: "no" },
      }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("features", () => {
  it("a catalogue feature added to a mini program is delivered with its releases and listed per release", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token, undefined, { config: { features: ["own"] } });
    const { release } = await releaseFull(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0");
    const post = (json: unknown) => call("/v1/admin/features", { method: "POST", token: ws.token, json });
    const created = await expectJson<{ id: string; jsapis: string[] }>(
      await post({ name: "location", description: "Where the user is", jsapis: ["my.getLocation", "my.chooseCity"] }),
      201,
    );
    expect(created.jsapis).toEqual(["my.chooseCity", "my.getLocation"]);
    await expectProblem(await post({ name: "location", jsapis: ["my.x"] }), 409, "CONFLICT");
    await expectProblem(await post({ name: "bad name!", jsapis: ["my.x"] }), 400, "VALIDATION_FAILED");

    const feature = (method: string) =>
      call(`/v1/admin/mini-programs/${mp.key}/features/location`, { method, token: ws.token });
    expect((await expectJson<{ name: string }[]>(await feature("PUT"), 200)).map((f) => f.name)).toEqual(["location"]);
    expect((await checkOne(app.key, "prod", mp.key, null)).config?.features).toEqual(["location", "own"]);
    const carried = await expectJson<{ name: string; source: string; jsapis: string[] | null }[]>(
      await call(`/v1/admin/releases/${release.id}/features`, { token: ws.token }),
      200,
    );
    expect(carried).toEqual([
      {
        name: "location",
        source: "mini_program",
        description: "Where the user is",
        jsapis: ["my.chooseCity", "my.getLocation"],
      },
      { name: "own", source: "configuration", description: null, jsapis: null },
    ]);
    await expectProblem(
      await call("/v1/admin/features/location", { method: "DELETE", token: ws.token }),
      409,
      "FEATURE_IN_USE",
    );
    await expectJson(await feature("DELETE"), 200);
    expect((await checkOne(app.key, "prod", mp.key, null)).config?.features).toEqual(["own"]);
    await expectJson(await call("/v1/admin/features/location", { method: "DELETE", token: ws.token }), 200);
    await expectProblem(await call("/v1/admin/features/location", { token: ws.token }), 404, "NOT_FOUND");
  });
});

describe("deleting apps and environments", () => {
  it("is refused while a release is open, then hides them and keeps the key and name taken", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token, ["test", "prod", "staging"]);
    const mp = await createMiniProgram(ws.token);
    const { release } = await releaseFull(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0");
    const delApp = () => call(`/v1/admin/apps/${app.key}`, { method: "DELETE", token: ws.token });
    const delEnv = (env: string) =>
      call(`/v1/admin/apps/${app.key}/environments/${env}`, { method: "DELETE", token: ws.token });
    await expectProblem(await delApp(), 409, "TARGET_IN_USE");
    await expectProblem(await delEnv("prod"), 409, "TARGET_IN_USE");

    expect((await expectJson<{ deletedAt: number | null }>(await delEnv("staging"), 200)).deletedAt).toEqual(
      expect.any(Number),
    );
    const got = await expectJson<{ environments: { name: string }[] }>(
      await call(`/v1/admin/apps/${app.key}`, { token: ws.token }),
      200,
    );
    expect(got.environments.map((e) => e.name).sort()).toEqual(["prod", "test"]);
    await expectProblem(
      await call(`/v1/admin/apps/${app.key}/environments`, {
        method: "POST",
        token: ws.token,
        json: { name: "staging" },
      }),
      409,
      "CONFLICT",
    );

    await transition(ws.token, release.id, "ended");
    await expectJson(await delApp(), 200);
    await expectProblem(await call(`/v1/admin/apps/${app.key}`, { token: ws.token }), 404, "NOT_FOUND");
    const apps = await expectJson<{ items: { key: string }[] }>(await call("/v1/admin/apps", { token: ws.token }), 200);
    expect(apps.items.map((a) => a.key)).not.toContain(app.key);
    // Nobody, in any workspace, can take the key over and ship to its devices.
    const other = await makeWorkspace();
    await expectProblem(
      await call("/v1/admin/apps", {
        method: "POST",
        token: other.token,
        json: { key: app.key, name: "Squatter", platforms: ["ios"] },
      }),
      409,
      "CONFLICT",
    );
    expect((await checkOne(app.key, "prod", mp.key, null)).action).toBe("none");
  });
});

describe("mini program information", () => {
  it("has an icon and a category, and lists filter by creator and category", async () => {
    const ws = await makeWorkspace();
    const dev = await addMember(ws.workspaceId, "developer");
    const category = uniqueKey("cat");
    const mine = await createMiniProgram(dev.token, undefined, { icon: "https://cdn.example.com/i.png", category });
    const theirs = await createMiniProgram(ws.token);
    await expectProblem(
      await call("/v1/admin/mini-programs", {
        method: "POST",
        token: ws.token,
        json: { key: uniqueKey("mp"), names: { en: "x" }, icon: "http://insecure.example.com/i.png" },
      }),
      400,
      "VALIDATION_FAILED",
    );
    const list = async (query: string) =>
      (
        await expectJson<{ items: { key: string }[] }>(
          await call(`/v1/admin/mini-programs?${query}`, { token: ws.token }),
          200,
        )
      ).items.map((m) => m.key);
    expect(await list(`createdBy=${dev.memberId}`)).toEqual([mine.key]);
    expect(await list(`createdBy=${ws.memberId}`)).toEqual([theirs.key]);
    expect(await list(`category=${category}`)).toEqual([mine.key]);
    const patched = await expectJson<{ icon: string | null; category: string | null; createdBy: string }>(
      await call(`/v1/admin/mini-programs/${mine.key}`, {
        method: "PATCH",
        token: ws.token,
        json: { icon: null, category: "tools" },
      }),
      200,
    );
    expect(patched).toMatchObject({ icon: null, category: "tools", createdBy: dev.memberId });
  });
});

describe("a release created while its target is deleted", () => {
  it("is refused inside the write: the deleted environment gets no release", async () => {
    const ws = await makeWorkspace();
    const app = await createApp(ws.token, ["test", "prod", "gone"]);
    const mp = await createMiniProgram(ws.token);
    await uploadVersion(ws.token, mp.key, "1.0.0");
    const gone = app.environments.find((e) => e.name === "gone")?.id ?? "";
    await expectJson(
      await call(`/v1/admin/apps/${app.key}/environments/gone`, { method: "DELETE", token: ws.token }),
      200,
    );
    // As the use case would after reading the environment just before its deletion committed.
    await expect(releaseInStore(ws, app, "gone", mp.id, "1.0.0")).rejects.toThrow(/environment_deleted/);
    expect(await count("select count(*) as n from releases where environment_id = ?", gone)).toBe(0);
  });
});
