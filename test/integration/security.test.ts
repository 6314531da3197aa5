import { beforeAll, describe, expect, it } from "vitest";
import type { WorkspaceRole } from "../../src/domain/permissions";
import { count, expectProblem } from "../support/admin-factories";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

// The role × route matrix. Every admin operation in the OpenAPI document must have an entry here
// (a new route without one fails the first test), and every entry is exercised for every role.
type Req = { path: string; method: string; json?: unknown; body?: Uint8Array; type?: string; text?: string };
const ROLES: WorkspaceRole[] = ["admin", "reviewer", "developer"];

interface Fixture {
  appKey: string;
  listId: string;
  releaseId: string;
  reviewReleaseId: string;
}

const MATRIX: Record<string, { allowed: WorkspaceRole[]; req: (f: Fixture, role: WorkspaceRole) => Req }> = {
  "GET /v1/admin/apps": { allowed: ROLES, req: () => ({ method: "GET", path: "/v1/admin/apps" }) },
  "POST /v1/admin/apps": {
    allowed: ["admin"],
    req: () => ({
      method: "POST",
      path: "/v1/admin/apps",
      json: { key: uniqueKey("m"), name: "x", platforms: ["ios"] },
    }),
  },
  "GET /v1/admin/apps/{appId}": { allowed: ROLES, req: (f) => ({ method: "GET", path: `/v1/admin/apps/${f.appKey}` }) },
  "POST /v1/admin/apps/{appId}/environments": {
    allowed: ["admin"],
    req: (f, role) => ({
      method: "POST",
      path: `/v1/admin/apps/${f.appKey}/environments`,
      json: { name: `e-${role}` },
    }),
  },
  "POST /v1/admin/apps/{appId}/environments/{env}/rebuild-delivery": {
    allowed: ["admin"],
    req: (f) => ({ method: "POST", path: `/v1/admin/apps/${f.appKey}/environments/prod/rebuild-delivery` }),
  },
  "GET /v1/admin/mini-programs": { allowed: ROLES, req: () => ({ method: "GET", path: "/v1/admin/mini-programs" }) },
  "POST /v1/admin/mini-programs": {
    allowed: ["admin"],
    req: (_f, role) => ({
      method: "POST",
      path: "/v1/admin/mini-programs",
      json: { key: `mp-${role}`, names: { en: "x" } },
    }),
  },
  "GET /v1/admin/mini-programs/{miniProgramId}": {
    allowed: ROLES,
    req: () => ({ method: "GET", path: "/v1/admin/mini-programs/pay" }),
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/versions": {
    allowed: ROLES,
    req: () => ({ method: "GET", path: "/v1/admin/mini-programs/pay/versions" }),
  },
  "POST /v1/admin/mini-programs/{miniProgramId}/versions": {
    allowed: ["admin", "developer"],
    req: (_f, role) => ({
      method: "POST",
      path: `/v1/admin/mini-programs/pay/versions?version=3.0.0-${role}`,
      body: makeZip({ "index.js": role }),
      type: "application/zip",
    }),
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/versions/{version}": {
    allowed: ROLES,
    req: () => ({ method: "GET", path: "/v1/admin/mini-programs/pay/versions/1.0.0" }),
  },
  "GET /v1/admin/releases": { allowed: ROLES, req: () => ({ method: "GET", path: "/v1/admin/releases" }) },
  "POST /v1/admin/releases": {
    allowed: ["admin"],
    req: (f) => ({
      method: "POST",
      path: "/v1/admin/releases",
      json: { miniProgramId: "pay", version: "1.0.0", appId: f.appKey, env: "test" },
    }),
  },
  "GET /v1/admin/releases/{releaseId}": {
    allowed: ROLES,
    req: (f) => ({ method: "GET", path: `/v1/admin/releases/${f.releaseId}` }),
  },
  "PUT /v1/admin/releases/{releaseId}/targeting": {
    allowed: ["admin"],
    req: (f) => ({
      method: "PUT",
      path: `/v1/admin/releases/${f.releaseId}/targeting`,
      json: { allowlists: [{ kind: "user", listId: f.listId }] },
    }),
  },
  "PUT /v1/admin/releases/{releaseId}/rollout": {
    allowed: ["admin"],
    req: (f) => ({ method: "PUT", path: `/v1/admin/releases/${f.releaseId}/rollout`, json: { basisPoints: 100 } }),
  },
  "POST /v1/admin/releases/{releaseId}/transitions": {
    allowed: ["admin"],
    req: (f) => ({ method: "POST", path: `/v1/admin/releases/${f.releaseId}/transitions`, json: { to: "cancelled" } }),
  },
  "GET /v1/admin/allowlists": { allowed: ROLES, req: () => ({ method: "GET", path: "/v1/admin/allowlists" }) },
  "POST /v1/admin/allowlists": {
    allowed: ["admin"],
    req: (_f, role) => ({ method: "POST", path: "/v1/admin/allowlists", json: { name: `l-${role}`, kind: "device" } }),
  },
  "GET /v1/admin/allowlists/{allowlistId}": {
    allowed: ROLES,
    req: (f) => ({ method: "GET", path: `/v1/admin/allowlists/${f.listId}` }),
  },
  "GET /v1/admin/allowlists/{allowlistId}/entries": {
    allowed: ROLES,
    req: (f) => ({ method: "GET", path: `/v1/admin/allowlists/${f.listId}/entries` }),
  },
  "PUT /v1/admin/allowlists/{allowlistId}/entries": {
    allowed: ["admin"],
    req: (f) => ({ method: "PUT", path: `/v1/admin/allowlists/${f.listId}/entries`, text: "u-1\nu-2" }),
  },
  "POST /v1/admin/allowlists/{allowlistId}/entries": {
    allowed: ["admin"],
    req: (f) => ({ method: "POST", path: `/v1/admin/allowlists/${f.listId}/entries`, text: "u-3" }),
  },
  "POST /v1/admin/explain": {
    allowed: ROLES,
    req: (f) => ({
      method: "POST",
      path: "/v1/admin/explain",
      json: { appId: f.appKey, env: "prod", deviceId: "d", miniPrograms: [{ id: "pay", version: null }] },
    }),
  },
  "GET /v1/admin/audit-logs": {
    allowed: ["admin", "reviewer"],
    req: () => ({ method: "GET", path: "/v1/admin/audit-logs" }),
  },
};

describe("role × route matrix", () => {
  let tokens: Record<WorkspaceRole, string>;
  let fixture: Fixture;

  beforeAll(async () => {
    const ws = await makeWorkspace("admin");
    const admin = ws.token;
    tokens = {
      admin,
      reviewer: (await addMember(ws.workspaceId, "reviewer")).token,
      developer: (await addMember(ws.workspaceId, "developer")).token,
    };
    const appKey = uniqueKey("sec");
    await call("/v1/admin/apps", {
      method: "POST",
      token: admin,
      json: { key: appKey, name: "x", platforms: ["ios"] },
    });
    await call("/v1/admin/mini-programs", { method: "POST", token: admin, json: { key: "pay", names: { en: "Pay" } } });
    for (const version of ["1.0.0", "1.1.0"]) {
      await call(`/v1/admin/mini-programs/pay/versions?version=${version}`, {
        method: "POST",
        token: admin,
        headers: { "content-type": "application/zip" },
        body: makeZip({ "index.js": version }),
      });
    }
    const rel = async (env: string) =>
      (
        await (
          await call("/v1/admin/releases", {
            method: "POST",
            token: admin,
            json: { miniProgramId: "pay", version: "1.1.0", appId: appKey, env },
          })
        ).json<{ id: string }>()
      ).id;
    const list = await call("/v1/admin/allowlists", {
      method: "POST",
      token: admin,
      json: { name: "testers", kind: "user" },
    });
    const listId = (await list.json<{ id: string }>()).id;
    fixture = { appKey, listId, releaseId: await rel("prod"), reviewReleaseId: await rel("test") };
    await call(`/v1/admin/releases/${fixture.reviewReleaseId}/transitions`, {
      method: "POST",
      token: admin,
      json: { to: "in_review" },
    });
  });

  it("has an entry for every admin operation in the OpenAPI document", async () => {
    const doc = await (await call("/openapi.json")).json<{ paths: Record<string, Record<string, unknown>> }>();
    const operations = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith("/v1/admin"))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.length).toBeGreaterThan(10);
    expect(operations.sort()).toEqual(Object.keys(MATRIX).sort());
  });

  const cases = Object.entries(MATRIX).flatMap(([route, entry]) => ROLES.map((role) => [route, role, entry] as const));
  it.each(cases)("%s as %s", async (_route, role, entry) => {
    const r = entry.req(fixture, role);
    const type = r.text !== undefined ? "text/plain" : r.type;
    const headers: Record<string, string> = type ? { "content-type": type } : {};
    const res = await call(r.path, {
      method: r.method,
      token: tokens[role],
      headers,
      ...(r.json !== undefined ? { json: r.json } : {}),
      ...(r.body ? { body: r.body } : {}),
      ...(r.text !== undefined ? { body: r.text } : {}),
    });
    const text = await res.text();
    if (entry.allowed.includes(role)) {
      expect(res.status, text).toBeLessThan(300);
    } else {
      expect(res.status, text).toBe(403);
      expect(JSON.parse(text).code).toBe("FORBIDDEN");
    }
  });

  it("lets reviewers approve and reject but not release", async () => {
    const approve = await call(`/v1/admin/releases/${fixture.reviewReleaseId}/transitions`, {
      method: "POST",
      token: tokens.reviewer,
      json: { to: "approved" },
    });
    expect(approve.status).toBe(200);
    const full = await call(`/v1/admin/releases/${fixture.reviewReleaseId}/transitions`, {
      method: "POST",
      token: tokens.reviewer,
      json: { to: "full" },
    });
    expect(full.status).toBe(403);
  });

  it("never lets a token see another workspace's resources", async () => {
    const other = await makeWorkspace("admin");
    const res = await call(`/v1/admin/releases/${fixture.releaseId}`, { token: other.token });
    expect(res.status).toBe(404);
    const apps = await (await call("/v1/admin/apps", { token: other.token })).json<{ items: unknown[] }>();
    expect(apps.items).toEqual([]);
  });
});

describe("keys and names shaped like ids", () => {
  it("refuses mini program keys and allowlist names that start like a generated id, and writes nothing", async () => {
    const { token } = await makeWorkspace();
    for (const key of ["mp_shadow", "al_list", "REL_x"]) {
      const res = await call("/v1/admin/mini-programs", { method: "POST", token, json: { key, names: { en: "X" } } });
      const { body } = await expectProblem(res, 400, "VALIDATION_FAILED");
      expect(body.errors?.[0]?.pointer).toBe("/key");
      const list = await call("/v1/admin/allowlists", { method: "POST", token, json: { name: key, kind: "user" } });
      const problem = await expectProblem(list, 400, "VALIDATION_FAILED");
      expect(problem.body.errors?.[0]?.pointer).toBe("/name");
    }
    expect(await count("select count(*) as n from mini_programs where key in ('mp_shadow', 'al_list', 'REL_x')")).toBe(
      0,
    );
    expect(await count("select count(*) as n from allowlists where name in ('mp_shadow', 'al_list', 'REL_x')")).toBe(0);
  });
});
