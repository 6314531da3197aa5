// Every admin list pages the same way: `limit` and `cursor` in, `{ items, nextCursor }` out, keyed so
// that paging through returns each item once. The list routes are found in the OpenAPI document.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { addPublisherKeyViaApi } from "../support/access-fixtures";
import {
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";

interface Doc {
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>
  >;
}

let token = "";
const paths: Record<string, string> = {};

beforeAll(async () => {
  const ws = await makeWorkspace();
  token = ws.token;
  const app = await createApp(token);
  const mp = await createMiniProgram(token);
  // A webhook nothing answers on: three pings are three deliveries (their attempts fail in the background).
  await expectJson(
    await call("/v1/admin/webhook", { method: "PUT", token, json: { url: `http://127.0.0.1:9/${uniqueKey("hook")}` } }),
    201,
  );
  for (let i = 0; i < 3; i++) {
    await createApp(token);
    // One removal request per mini program may be pending: each goes to a mini program of its own.
    const other = await createMiniProgram(token);
    await expectJson(
      await call(`/v1/admin/mini-programs/${other.key}/removal-requests`, {
        method: "POST",
        token,
        json: { reason: `r${i}` },
      }),
      201,
    );
    const feature = await expectJson<{ id: string }>(
      await call("/v1/admin/features", { method: "POST", token, json: { name: uniqueKey("f"), jsapis: ["my.x"] } }),
      201,
    );
    await expectJson(
      await call(`/v1/admin/mini-programs/${mp.key}/features/${feature.id}`, { method: "PUT", token }),
      200,
    );
    await uploadVersion(token, mp.key, `1.${i}.0`);
    await createRelease(token, { miniProgramId: mp.key, version: `1.${i}.0`, appId: app.key, env: "prod" });
    await call("/v1/admin/allowlists", { method: "POST", token, json: { name: uniqueKey("l"), kind: "user" } });
    const member = await addMember(ws.workspaceId, "developer");
    await call(`/v1/admin/mini-programs/${mp.key}/members/${member.memberId}`, {
      method: "PUT",
      token,
      json: { role: "developer" },
    });
    await call("/v1/admin/tokens", { method: "POST", token, json: { name: `t${i}` } });
    await addPublisherKeyViaApi(token, `k${i}`);
    await expectJson(await call("/v1/admin/webhook/test", { method: "POST", token }), 202);
  }
  // Three patches between the mini program's versions (rows as the Queue consumer leaves them).
  const versions = (
    await expectJson<{ items: { id: string }[] }>(
      await call(`/v1/admin/mini-programs/${mp.key}/versions`, { token }),
      200,
    )
  ).items.map((v) => v.id);
  for (const [i, [base, target]] of [
    [0, 1],
    [0, 2],
    [1, 2],
  ].entries()) {
    await env.DB.prepare(
      "insert into patches (id, workspace_id, mini_program_id, base_version_id, target_version_id, format, status, attempts, created_at, updated_at) values (?, ?, ?, ?, ?, 'updraft-zstd-v1', 'failed', 4, ?, ?)",
    )
      .bind(
        `pat_paging${i}${uniqueKey("x").replace(/[^a-z0-9]/g, "")}`,
        ws.workspaceId,
        mp.id,
        versions[base as number],
        versions[target as number],
        i,
        i,
      )
      .run();
  }
  const [release] = (await expectJson<{ items: { id: string }[] }>(await call("/v1/admin/releases", { token }), 200))
    .items;
  const codes = `/v1/admin/releases/${release?.id}/qr-codes`;
  for (const pagePath of ["pages/a", "pages/b"]) {
    await expectJson(await call(codes, { method: "POST", token, json: { pagePath } }), 201);
  }
  Object.assign(paths, {
    "/v1/admin/releases/{releaseId}/qr-codes": codes,
    "/v1/admin/apps": "/v1/admin/apps",
    "/v1/admin/mini-programs": "/v1/admin/mini-programs",
    "/v1/admin/mini-programs/{miniProgramId}/versions": `/v1/admin/mini-programs/${mp.key}/versions`,
    "/v1/admin/mini-programs/{miniProgramId}/patches": `/v1/admin/mini-programs/${mp.key}/patches`,
    "/v1/admin/mini-programs/{miniProgramId}/members": `/v1/admin/mini-programs/${mp.key}/members`,
    "/v1/admin/releases": "/v1/admin/releases",
    "/v1/admin/allowlists": "/v1/admin/allowlists",
    "/v1/admin/members": "/v1/admin/members",
    "/v1/admin/tokens": "/v1/admin/tokens",
    "/v1/admin/features": "/v1/admin/features",
    "/v1/admin/mini-programs/{miniProgramId}/features": `/v1/admin/mini-programs/${mp.key}/features`,
    "/v1/admin/removal-requests": "/v1/admin/removal-requests",
    "/v1/admin/publisher-keys": "/v1/admin/publisher-keys",
    "/v1/admin/webhook/deliveries": "/v1/admin/webhook/deliveries",
  });
});

const idOf = (item: Record<string, unknown>) => String(item.id ?? item.memberId);

describe("admin lists", () => {
  it("every list in the OpenAPI document takes limit and cursor and answers nextCursor", async () => {
    const doc = await (await call("/openapi.json")).json<Doc>();
    const lists = Object.entries(doc.paths)
      .filter(
        ([path, ops]) =>
          path.startsWith("/v1/admin/") &&
          JSON.stringify(ops.get?.responses?.["200"] ?? {}).includes('"properties":{"items":'),
      )
      .map(([path, ops]) => {
        const names = (ops.get?.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
        expect(names, path).toEqual(expect.arrayContaining(["limit", "cursor"]));
        expect(JSON.stringify(ops.get?.responses["200"]), path).toContain("nextCursor");
        return path;
      });
    // Every list is paged through below (except the audit log, paged by the store and tested in audit.test.ts).
    expect(lists.filter((p) => p !== "/v1/admin/audit-logs").sort()).toEqual(Object.keys(paths).sort());
  });

  it.each([
    "/v1/admin/apps",
    "/v1/admin/mini-programs",
    "/v1/admin/mini-programs/{miniProgramId}/versions",
    "/v1/admin/mini-programs/{miniProgramId}/patches",
    "/v1/admin/mini-programs/{miniProgramId}/members",
    "/v1/admin/releases",
    "/v1/admin/allowlists",
    "/v1/admin/members",
    "/v1/admin/tokens",
    "/v1/admin/releases/{releaseId}/qr-codes",
    "/v1/admin/features",
    "/v1/admin/mini-programs/{miniProgramId}/features",
    "/v1/admin/removal-requests",
    "/v1/admin/publisher-keys",
    "/v1/admin/webhook/deliveries",
  ])("%s pages through every item once", async (route) => {
    const path = paths[route] ?? "";
    const sep = path.includes("?") ? "&" : "?";
    const all = await expectJson<{ items: Record<string, unknown>[]; nextCursor: string | null }>(
      await call(`${path}${sep}limit=500`, { token }),
      200,
    );
    expect(all.nextCursor).toBeNull();
    expect(all.items.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `${sep}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await expectJson<{ items: Record<string, unknown>[]; nextCursor: string | null }>(
        await call(`${path}${q}`, { token }),
        200,
      );
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map(idOf));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    expect(seen).toEqual(all.items.map(idOf));
    await expectProblem(await call(`${path}${sep}cursor=not-a-cursor`, { token }), 400, "VALIDATION_FAILED");
  });

  it("mini programs filter by key or name, versions by status", async () => {
    const ws = await makeWorkspace();
    const a = await createMiniProgram(ws.token, uniqueKey("wallet"), { names: { en: "Red Packet" } });
    await createMiniProgram(ws.token, uniqueKey("other"), { names: { en: "Coupons" } });
    const byName = await expectJson<{ items: { id: string }[] }>(
      await call("/v1/admin/mini-programs?q=red%20pack", { token: ws.token }),
      200,
    );
    expect(byName.items.map((m) => m.id)).toEqual([a.id]);
    const byKey = await expectJson<{ items: { id: string }[] }>(
      await call("/v1/admin/mini-programs?q=WALLET", { token: ws.token }),
      200,
    );
    expect(byKey.items.map((m) => m.id)).toEqual([a.id]);
    await uploadVersion(ws.token, a.key, "1.0.0");
    await uploadVersion(ws.token, a.key, "2.0.0");
    await call(`/v1/admin/mini-programs/${a.key}/versions/1.0.0`, { method: "DELETE", token: ws.token });
    const active = await expectJson<{ items: { version: string }[] }>(
      await call(`/v1/admin/mini-programs/${a.key}/versions?status=active`, { token: ws.token }),
      200,
    );
    expect(active.items.map((v) => v.version)).toEqual(["2.0.0"]);
    const deleted = await expectJson<{ items: { version: string }[] }>(
      await call(`/v1/admin/mini-programs/${a.key}/versions?status=deleted`, { token: ws.token }),
      200,
    );
    expect(deleted.items.map((v) => v.version)).toEqual(["1.0.0"]);
  });
});
