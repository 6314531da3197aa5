// POST /v1/admin/apps/{app}/environments/{env}/rebuild-delivery: delivery data compiled anew from the
// relational state. The case it exists for: releases whose delivery was never published (state written
// by a version that kept one snapshot per environment, or delivery storage lost). Here a full release
// is written straight into D1, as such a state looks: devices get nothing until the rebuild.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  createApp,
  createMiniProgram,
  expectJson,
  expectProblem,
  releaseFull,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace } from "../support/workspace";

const check = async (appKey: string, mpKey: string) => {
  const res = await call("/v1/check", {
    method: "POST",
    json: { appId: appKey, env: "prod", deviceId: "dev-1", miniPrograms: [{ id: mpKey, version: "1.0.0" }] },
  });
  const body = await expectJson<{ results: { action: string; version?: string }[] }>(res, 200);
  return body.results[0]?.action === "update" ? body.results[0].version : "none";
};

describe("rebuilding an environment's delivery data", () => {
  it("publishes releases the delivery data did not have, and changes nothing else", async () => {
    const { token, workspaceId } = await makeWorkspace();
    const app = await createApp(token, ["prod"]);
    const mp = await createMiniProgram(token);
    await uploadVersion(token, mp.key, "1.0.0");
    const v11 = await uploadVersion(token, mp.key, "1.1.0");
    const target = await env.DB.prepare("select e.id as id, e.app_id as appId from environments e where e.app_id = ?")
      .bind(app.id)
      .first<{ id: string; appId: string }>();
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        "insert into releases (id, version_id, mini_program_id, app_id, environment_id, seq, status, went_full, update_mode, config, created_by, created_at, updated_at) values (?, ?, ?, ?, ?, 1, 'full', 1, 'default', '{}', 'test', ?, ?)",
      ).bind("rel_written_directly", v11.id, mp.id, target?.appId, target?.id, now, now),
      env.DB.prepare("update environments set snapshot_version = snapshot_version + 1 where id = ?").bind(target?.id),
    ]);
    expect(await check(app.key, mp.key)).toBe("none");

    const developer = await addMember(workspaceId, "developer");
    const path = `/v1/admin/apps/${app.key}/environments/prod/rebuild-delivery`;
    await expectProblem(await call(path, { method: "POST", token: developer.token }), 403, "FORBIDDEN");
    await expectProblem(
      await call(`/v1/admin/apps/${app.key}/environments/staging/rebuild-delivery`, { method: "POST", token }),
      404,
      "NOT_FOUND",
    );
    const rebuilt = await expectJson<{ parts: number; version: number }>(
      await call(path, { method: "POST", token }),
      200,
    );
    expect(rebuilt.parts).toBe(1);
    expect(await check(app.key, mp.key)).toBe("1.1.0");
    // Again: the same parts, nothing new for devices.
    const again = await expectJson<{ parts: number; version: number }>(
      await call(path, { method: "POST", token }),
      200,
    );
    expect(again).toEqual(rebuilt);
  });

  it("after a D1 restore took the environment's version back, rebuilds above what the head named, removing what is gone", async () => {
    const { token } = await makeWorkspace();
    const app = await createApp(token, ["prod"]);
    const kept = await createMiniProgram(token);
    const dropped = await createMiniProgram(token);
    for (const mp of [kept, dropped]) {
      await uploadVersion(token, mp.key, "1.0.0");
      await releaseFull(token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.1.0");
    }
    expect(await check(app.key, kept.key)).toBe("1.1.0");
    expect(await check(app.key, dropped.key)).toBe("1.1.0");
    // The restore: back to a bookmark where `kept`'s release was paused and `dropped` had none, and
    // the environment's snapshot version was 1 (the head has named parts of higher versions since).
    await env.DB.batch([
      env.DB.prepare("update releases set status = 'paused', paused_from = 'full' where mini_program_id = ?").bind(
        kept.id,
      ),
      env.DB.prepare(
        "delete from qr_codes where release_id in (select id from releases where mini_program_id = ?)",
      ).bind(dropped.id),
      env.DB.prepare("delete from releases where mini_program_id = ?").bind(dropped.id),
      env.DB.prepare("update environments set snapshot_version = 1 where app_id = ?").bind(app.id),
    ]);
    const path = `/v1/admin/apps/${app.key}/environments/prod/rebuild-delivery`;
    expect(await expectJson<{ parts: number }>(await call(path, { method: "POST", token }), 200)).toMatchObject({
      parts: 1,
    });
    expect(await check(app.key, kept.key)).toBe("none");
    expect(await check(app.key, dropped.key)).toBe("none");
  });
});
