// The console's route × principal matrix (docs/console.md, "Access"). Every console route behind
// sign-in is sent, as a valid request with the session's CSRF token, by a session of every
// principal below. The expected outcome is derived from the permission the request needs (checked
// to be one its table entry's API operation requires, src/http/console/access.ts) and `can()` for
// the resource's mini program (A): allowed answers its success status, denied answers 403 with the
// console's error page. A console route missing from the table or from this file fails the test.
import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, can, type Permission, type TokenAccess, type WorkspaceRole } from "../../src/domain/permissions";
import { ROUTE_PERMISSIONS } from "../../src/http/access";
import { CONSOLE_ROUTES } from "../../src/http/console/access";
import { consoleRouter } from "../../src/http/console/router";
import { createTokenViaApi } from "../support/access-fixtures";
import {
  createApp,
  createMiniProgram,
  createRelease,
  getRelease,
  releaseFull,
  transition,
  uploadVersion,
} from "../support/admin-factories";
import { csrfOf, page, sessionOf } from "../support/console";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";

interface PrincipalSpec {
  name: string;
  role: WorkspaceRole;
  /** Roles on mini program A or B. */
  mp: { A?: "developer" | "admin"; B?: "developer" | "admin" };
  scope?: { access: TokenAccess; onlyB?: boolean };
}

const PRINCIPALS: readonly PrincipalSpec[] = [
  { name: "workspace admin", role: "admin", mp: {} },
  { name: "workspace reviewer", role: "reviewer", mp: {} },
  { name: "developer of A", role: "developer", mp: { A: "developer" } },
  { name: "developer with a role on B only", role: "developer", mp: { B: "admin" } },
  { name: "admin with a read token", role: "admin", mp: {}, scope: { access: "read" } },
  { name: "admin with a publish token", role: "admin", mp: {}, scope: { access: "publish" } },
  { name: "admin with a token limited to B", role: "admin", mp: {}, scope: { access: "full", onlyB: true } },
];

interface World {
  owner: string;
  a: { id: string; key: string };
  appKey: string;
  /** A canary (2.1.0 at 5 %) of A over its full 2.0.0. */
  canary: string;
  /** A's full 2.0.0, which went full after 1.0.0: it can be rolled back to 1.0.0. */
  full: string;
  /** A created release of A (previewable) and its default QR code. */
  draft: string;
  code: string;
  /** An allowlist of the workspace. */
  list: string;
}

interface Case {
  /** The console route as in CONSOLE_ROUTES. */
  route: string;
  /** The permission this request needs (one its API operation requires), and on which mini program. */
  needs: Permission | "session";
  /** The permission the route table's API operation requires, when the use case then needs a narrower one. */
  gate?: Permission;
  onA: boolean;
  ok: number;
  send: (w: World, session: string, csrf: string) => Promise<Response>;
  /** Puts the fixture back after an allowed write. */
  reset?: (w: World) => Promise<void>;
}

const formPost = (path: string, session: string, fields: Record<string, string>) =>
  call(path, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: session },
    body: new URLSearchParams(fields).toString(),
  });

const CASES: readonly Case[] = [
  { route: "GET /console", needs: "workspace:read", onA: false, ok: 200, send: (_w, s) => page("/console", s) },
  {
    route: "GET /console/releases/:releaseId",
    needs: "mini_program:read",
    onA: true,
    ok: 200,
    send: (w, s) => page(`/console/releases/${w.canary}`, s),
  },
  {
    route: "GET /console/releases/:releaseId/estimate",
    needs: "mini_program:read",
    onA: true,
    ok: 200,
    send: (w, s) => page(`/console/releases/${w.canary}/estimate?basisPoints=1000`, s),
  },
  {
    route: "POST /console/releases/:releaseId/rollout",
    needs: "release:write",
    onA: true,
    ok: 303,
    send: (w, s, csrf) => formPost(`/console/releases/${w.canary}/rollout`, s, { _csrf: csrf, basisPoints: "500" }),
  },
  {
    route: "POST /console/releases/:releaseId/ramp",
    needs: "release:write",
    onA: true,
    ok: 303,
    send: (w, s, csrf) => formPost(`/console/releases/${w.canary}/ramp`, s, { _csrf: csrf }),
  },
  {
    route: "POST /console/releases/:releaseId/rollback",
    needs: "release:create",
    onA: true,
    ok: 303,
    send: (w, s, csrf) =>
      formPost(`/console/releases/${w.full}/rollback`, s, { _csrf: csrf, version: "1.0.0", confirmed: "yes" }),
    reset: async (w) => {
      const open = await call(`/v1/admin/releases?miniProgramId=${w.a.id}&version=1.0.0&status=created`, {
        token: w.owner,
      });
      for (const r of ((await open.json()) as { items: { id: string }[] }).items) {
        await transition(w.owner, r.id, "cancelled");
      }
    },
  },
  {
    route: "POST /console/releases/:releaseId/transition",
    needs: "release:write",
    onA: true,
    ok: 303,
    send: (w, s, csrf) =>
      formPost(`/console/releases/${w.canary}/transition`, s, { _csrf: csrf, to: "paused", confirmed: "yes" }),
    reset: async (w) => {
      if ((await getRelease(w.owner, w.canary)).status === "paused") await transition(w.owner, w.canary, "canary");
    },
  },
  {
    route: "GET /console/releases/:releaseId/qr-codes",
    needs: "release:write",
    onA: true,
    ok: 200,
    send: (w, s) => page(`/console/releases/${w.draft}/qr-codes`, s),
  },
  {
    route: "GET /console/releases/:releaseId/qr-codes/:codeId/image.svg",
    needs: "release:write",
    onA: true,
    ok: 200,
    send: (w, s) => page(`/console/releases/${w.draft}/qr-codes/${w.code}/image.svg`, s),
  },
  {
    route: "POST /console/releases/:releaseId/qr-codes",
    needs: "release:write",
    onA: true,
    ok: 303,
    send: (w, s, csrf) =>
      formPost(`/console/releases/${w.draft}/qr-codes`, s, { _csrf: csrf, pagePath: "pages/matrix", query: "" }),
  },
  {
    route: "GET /console/reviews",
    needs: "workspace:read",
    onA: false,
    ok: 200,
    send: (_w, s) => page("/console/reviews", s),
  },
  {
    route: "GET /console/explain",
    // Explaining a mini program needs reading it (a member of it), past the workspace-wide gate.
    needs: "mini_program:read",
    gate: "workspace:read",
    onA: true,
    ok: 200,
    send: (w, s) =>
      page(`/console/explain?${new URLSearchParams({ appId: w.appKey, deviceId: "m", miniPrograms: w.a.key })}`, s),
  },
  {
    route: "POST /console/explain",
    // Explaining a mini program needs reading it (a member of it), past the workspace-wide gate.
    needs: "mini_program:read",
    gate: "workspace:read",
    onA: true,
    ok: 200,
    send: (w, s, csrf) =>
      formPost("/console/explain", s, {
        _csrf: csrf,
        request: JSON.stringify({ appId: w.appKey, env: "prod", deviceId: "m", miniPrograms: [{ id: w.a.key }] }),
      }),
  },
  {
    route: "GET /console/allowlists",
    needs: "workspace:read",
    onA: false,
    ok: 200,
    send: (_w, s) => page("/console/allowlists", s),
  },
  {
    route: "POST /console/allowlists",
    needs: "allowlist:write",
    onA: false,
    ok: 303,
    send: (_w, s, csrf) => formPost("/console/allowlists", s, { _csrf: csrf, name: uniqueKey("matrix"), kind: "user" }),
  },
  {
    route: "POST /console/allowlists/upload",
    needs: "allowlist:write",
    onA: false,
    ok: 303,
    send: (w, s, csrf) => {
      const body = new FormData();
      body.append("_csrf", csrf);
      body.append("list", w.list);
      body.append("mode", "append");
      body.append("file", new File(["matrix-user\n"], "list.txt", { type: "text/plain" }));
      return call("/console/allowlists/upload", { method: "POST", redirect: "manual", headers: { cookie: s }, body });
    },
  },
  {
    route: "POST /console/sign-out",
    needs: "session",
    onA: false,
    ok: 303,
    send: (_w, s, csrf) => formPost("/console/sign-out", s, { _csrf: csrf }),
  },
];

let world: World;
const sessions = new Map<string, { session: string; csrf: string; actor: Actor }>();

beforeAll(async () => {
  const ws = await makeWorkspace();
  const owner = ws.token;
  const appKey = (await createApp(owner)).key;
  const a = await createMiniProgram(owner);
  const b = await createMiniProgram(owner);
  await releaseFull(owner, { miniProgram: a.id, appKey, env: "prod" }, "1.0.0");
  const { release: full } = await releaseFull(owner, { miniProgram: a.id, appKey, env: "prod" }, "2.0.0");
  await uploadVersion(owner, a.id, "2.1.0");
  const c = await createRelease(owner, { miniProgramId: a.id, version: "2.1.0", appId: appKey, env: "prod" });
  await call(`/v1/admin/releases/${c.id}/rollout`, { method: "PUT", token: owner, json: { basisPoints: 500 } });
  for (const to of ["in_review", "approved", "canary"]) await transition(owner, c.id, to);
  await uploadVersion(owner, a.id, "3.0.0");
  const draft = await createRelease(owner, { miniProgramId: a.id, version: "3.0.0", appId: appKey, env: "prod" });
  const codes = await call(`/v1/admin/releases/${draft.id}/qr-codes`, { token: owner });
  const code = ((await codes.json()) as { items: { id: string }[] }).items[0]?.id as string;
  const list = await call("/v1/admin/allowlists", {
    method: "POST",
    token: owner,
    json: { name: uniqueKey("m"), kind: "user" },
  });
  world = {
    owner,
    a,
    appKey,
    canary: c.id,
    full: full.id,
    draft: draft.id,
    code,
    list: ((await list.json()) as { id: string }).id,
  };
  expect(code).toBeDefined();

  for (const spec of PRINCIPALS) {
    const roles: Record<string, "developer" | "admin"> = {};
    if (spec.mp.A) roles[a.id] = spec.mp.A;
    if (spec.mp.B) roles[b.id] = spec.mp.B;
    const member = await addMember(ws.workspaceId, spec.role, roles);
    let token = member.token;
    let tokenId = member.tokenId;
    const miniProgramIds = spec.scope?.onlyB ? [b.id] : null;
    if (spec.scope) {
      const made = await createTokenViaApi(member.token, {
        scopes: { access: spec.scope.access, ...(miniProgramIds ? { miniProgramIds } : {}) },
      });
      token = made.secret;
      tokenId = made.id;
    }
    const session = await sessionOf(token);
    const overview = await page("/console", session);
    expect(overview.status, spec.name).toBe(200);
    sessions.set(spec.name, {
      session,
      csrf: csrfOf(await overview.text()),
      actor: {
        memberId: member.memberId,
        workspaceId: ws.workspaceId,
        tokenId,
        kind: "person",
        role: spec.role,
        miniProgramRoles: roles,
        scope: { access: spec.scope?.access ?? "full", miniProgramIds },
        tokenExpiresAt: null,
      },
    });
  }
});

describe("console route table", () => {
  it("names every console route, and every route behind sign-in has a case here whose need its API operation requires", () => {
    const routes = consoleRouter.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path === "/" ? "/console" : `/console${r.path}`}`);
    expect(new Set(routes)).toEqual(new Set(Object.keys(CONSOLE_ROUTES)));
    const gated = Object.entries(CONSOLE_ROUTES)
      .filter(([, access]) => access !== "public")
      .map(([route]) => route);
    expect(CASES.map((c) => c.route).sort()).toEqual(gated.sort());
    for (const c of CASES) {
      const access = CONSOLE_ROUTES[c.route];
      if (c.needs === "session") {
        expect(access, c.route).toBe("session");
        continue;
      }
      const api = typeof access === "object" ? access.api : "";
      const needed = ROUTE_PERMISSIONS[api];
      expect(needed, `${c.route} → ${api}`).toBeDefined();
      expect(typeof needed === "string" ? [needed] : needed, c.route).toContain(c.gate ?? c.needs);
    }
  });
});

describe.each(PRINCIPALS.map((p) => p.name))("console as %s", (name) => {
  it.each(CASES.map((c) => [c.route, c] as const))("%s", async (_route, c) => {
    const { session, csrf, actor } = sessions.get(name) as { session: string; csrf: string; actor: Actor };
    const allowed = c.needs === "session" || can(actor, c.needs, c.onA ? world.a.id : undefined);
    const res = await c.send(world, session, csrf);
    const body = await res.text();
    if (allowed) {
      expect(res.status, body.slice(0, 800)).toBe(c.ok);
      await c.reset?.(world);
    } else {
      expect(res.status, body.slice(0, 800)).toBe(403);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(body).toContain('role="alert"');
    }
  });
});
