// Workspaces, members, invites, tokens and their rules, end to end over HTTP with real local D1.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FAILURE_LIMIT } from "../../src/store/d1-throttle";
import {
  count,
  createApp,
  createMiniProgram,
  createReleaseRequest,
  expectJson,
  expectProblem,
  transition,
  transitionRequest,
  uploadAndRelease,
  uploadRequest,
  uploadVersion,
} from "../support/admin-factories";
import { call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

const OPERATOR = { "updraft-bootstrap-secret": "test-bootstrap-secret" };
const DAY = 86_400_000;

interface Created {
  workspaceId: string;
  memberId: string;
  tokenId: string;
  token: string;
  expiresAt: number | null;
}
interface TokenJson {
  id: string;
  memberId: string;
  prefix: string;
  secret: string;
  scopes: { access: string; miniProgramIds: string[] | null };
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}
interface MemberJson {
  id: string;
  handle: string;
  role: string;
  kind: string;
  invite: { secret: string; expiresAt: number } | null;
}

async function newWorkspace(): Promise<Created> {
  return expectJson<Created>(
    await call("/v1/workspaces", {
      method: "POST",
      headers: OPERATOR,
      json: { workspaceName: "Acme", adminName: "Ada", adminEmail: `${uniqueKey("ada")}@example.test` },
    }),
    201,
  );
}

async function invite(token: string, body: Record<string, unknown>): Promise<MemberJson> {
  return expectJson<MemberJson>(await call("/v1/admin/members", { method: "POST", token, json: body }), 201);
}

async function accept(secret: string): Promise<{ member: { id: string }; token: TokenJson }> {
  return expectJson(await call("/v1/invites/accept", { method: "POST", json: { secret } }), 201);
}

/** A person member with `role` who accepted their invite: their id and first token. */
async function person(adminToken: string, role: string, extra: Record<string, unknown> = {}) {
  const m = await invite(adminToken, { name: role, handle: uniqueKey(role), role, ...extra });
  const { token } = await accept(m.invite?.secret ?? "");
  return { id: m.id, token: token.secret };
}

async function newToken(token: string, body: Record<string, unknown>): Promise<TokenJson> {
  return expectJson<TokenJson>(await call("/v1/admin/tokens", { method: "POST", token, json: body }), 201);
}

const status = async (token: string, path = "/v1/admin/apps") => (await call(path, { token })).status;

describe("workspaces", () => {
  it("are created by the operator only, any number of them, each with its first admin token", async () => {
    const wrong = await call("/v1/workspaces", {
      method: "POST",
      headers: { "updraft-bootstrap-secret": "nope" },
      json: { workspaceName: "x", adminName: "x", adminEmail: "x@example.test" },
    });
    await expectProblem(wrong, 401, "UNAUTHENTICATED");
    const a = await newWorkspace();
    const b = await newWorkspace();
    expect(a.workspaceId).not.toBe(b.workspaceId);
    expect(a.token).toMatch(/^upd_[0-9a-z]{32}$/);
    expect(a.expiresAt).toBeGreaterThan(Date.now() + 89 * DAY);
    expect(a.expiresAt).toBeLessThanOrEqual(Date.now() + 90 * DAY);
    const ws = await expectJson<{ id: string; allowSelfApproval: boolean }>(
      await call("/v1/admin/workspace", { token: a.token }),
      200,
    );
    expect(ws).toMatchObject({ id: a.workspaceId, allowSelfApproval: false });
    // The secret is stored only as its hash.
    expect(
      await count("select count(*) as n from api_tokens where token_hash = ? or prefix = ?", a.token, a.token),
    ).toBe(0);
  });
});

describe("operator recovery", () => {
  it("adds a person admin with an invite to a workspace nobody can administer any more", async () => {
    const ws = await newWorkspace();
    const early = await call(`/v1/workspaces/${ws.workspaceId}/admins`, {
      method: "POST",
      headers: OPERATOR,
      json: { name: "Too early", email: `${uniqueKey("early")}@example.test` },
    });
    await expectProblem(early, 409, "CONFLICT");
    await env.DB.prepare("update api_tokens set expires_at = ? where id = ?")
      .bind(Date.now() - 1, ws.tokenId)
      .run();
    await expectProblem(await call("/v1/admin/apps", { token: ws.token }), 401, "UNAUTHENTICATED");
    const body = { name: "Rescuer", email: `${uniqueKey("rescue")}@example.test` };
    const path = `/v1/workspaces/${ws.workspaceId}/admins`;
    await expectProblem(
      await call(path, { method: "POST", headers: { "updraft-bootstrap-secret": "wrong" }, json: body }),
      401,
      "UNAUTHENTICATED",
    );
    await expectProblem(
      await call("/v1/workspaces/ws_unknown/admins", { method: "POST", headers: OPERATOR, json: body }),
      404,
      "NOT_FOUND",
    );
    const added = await expectJson<MemberJson>(
      await call(path, { method: "POST", headers: OPERATOR, json: body }),
      201,
    );
    expect(added.role).toBe("admin");
    const { token } = await accept(added.invite?.secret ?? "");
    expect(await status(token.secret)).toBe(200);
    const log = await expectJson<{ items: { action: string; actorMemberId: string }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${added.id}`, { token: token.secret }),
      200,
    );
    expect(log.items.at(-1)).toMatchObject({ action: "member.add", actorMemberId: "operator" });
    const byOperator = await expectJson<{ items: unknown[] }>(
      await call("/v1/admin/audit-logs?actor=operator", { token: token.secret }),
      200,
    );
    expect(byOperator.items).toHaveLength(1);
  });
});

describe("members", () => {
  it("join with a one-time invite and act with their role", async () => {
    const ws = await newWorkspace();
    const m = await invite(ws.token, { name: "Rita", email: "Rita@Example.test", role: "reviewer" });
    expect(m).toMatchObject({ handle: "rita@example.test", role: "reviewer", kind: "person" });
    expect(m.invite?.secret).toMatch(/^updi_[0-9a-z]{32}$/);
    const { token } = await accept(m.invite?.secret ?? "");
    expect(token.memberId).toBe(m.id);
    expect(await status(token.secret)).toBe(200);
    expect(await status(token.secret, "/v1/admin/audit-logs")).toBe(200);
    await expectProblem(
      await call("/v1/admin/apps", {
        method: "POST",
        token: token.secret,
        json: { key: uniqueKey("a"), name: "a", platforms: ["ios"] },
      }),
      403,
      "FORBIDDEN",
    );
    // Used once.
    await expectProblem(
      await call("/v1/invites/accept", { method: "POST", json: { secret: m.invite?.secret } }),
      401,
      "UNAUTHENTICATED",
    );
    // The same handle twice.
    await expectProblem(
      await call("/v1/admin/members", {
        method: "POST",
        token: ws.token,
        json: { name: "x", email: "rita@example.test", role: "developer" },
      }),
      409,
      "CONFLICT",
    );
  });

  it("get a new invite that makes the older one useless; expired invites fail", async () => {
    const ws = await newWorkspace();
    const m = await invite(ws.token, { name: "Dev", handle: uniqueKey("dev"), role: "developer" });
    const again = await expectJson<{ secret: string }>(
      await call(`/v1/admin/members/${m.id}/invites`, { method: "POST", token: ws.token }),
      201,
    );
    await expectProblem(
      await call("/v1/invites/accept", { method: "POST", json: { secret: m.invite?.secret } }),
      401,
      "UNAUTHENTICATED",
    );
    await env.DB.prepare("update member_invites set expires_at = ? where member_id = ? and used_at is null")
      .bind(Date.now() - 1, m.id)
      .run();
    await expectProblem(
      await call("/v1/invites/accept", { method: "POST", json: { secret: again.secret } }),
      401,
      "UNAUTHENTICATED",
    );
  });

  it("lose their rights on the next request when demoted, and every token when removed", async () => {
    const ws = await newWorkspace();
    const other = await person(ws.token, "admin");
    const app = { key: uniqueKey("a"), name: "a", platforms: ["ios"] };
    expect((await call("/v1/admin/apps", { method: "POST", token: other.token, json: app })).status).toBe(201);
    await expectJson(
      await call(`/v1/admin/members/${other.id}`, { method: "PATCH", token: ws.token, json: { role: "developer" } }),
      200,
    );
    await expectProblem(
      await call("/v1/admin/apps", { method: "POST", token: other.token, json: { ...app, key: uniqueKey("a") } }),
      403,
      "FORBIDDEN",
    );
    // A service account the removed member created stays, with its token.
    await expectJson(
      await call(`/v1/admin/members/${other.id}`, { method: "PATCH", token: ws.token, json: { role: "admin" } }),
      200,
    );
    const bot = await invite(other.token, { kind: "service", name: "CI", handle: uniqueKey("ci"), role: "developer" });
    expect(bot.invite).toBeNull();
    const botToken = await newToken(other.token, { name: "ci", memberId: bot.id, expiresAt: null });
    expect(botToken.expiresAt).toBeNull();
    await expectJson(await call(`/v1/admin/members/${other.id}`, { method: "DELETE", token: ws.token }), 200);
    await expectProblem(await call("/v1/admin/apps", { token: other.token }), 401, "UNAUTHENTICATED");
    expect(await status(botToken.secret)).toBe(200);
    const members = await expectJson<{ items: { id: string }[] }>(
      await call("/v1/admin/members", { token: ws.token }),
      200,
    );
    expect(members.items.map((x) => x.id)).not.toContain(other.id);
  });

  it("can be added back under the same handle once removed", async () => {
    const ws = await newWorkspace();
    const handle = uniqueKey("back");
    const m = await invite(ws.token, { name: "Bo", handle, role: "developer" });
    await expectJson(await call(`/v1/admin/members/${m.id}`, { method: "DELETE", token: ws.token }), 200);
    const again = await invite(ws.token, { name: "Bo", handle, role: "developer" });
    expect(again.id).not.toBe(m.id);
  });

  it("keep one admin: the last one cannot be removed, demoted or lose their last token", async () => {
    const ws = await newWorkspace();
    const self = `/v1/admin/members/${ws.memberId}`;
    await expectProblem(await call(self, { method: "DELETE", token: ws.token }), 409, "LAST_ADMIN");
    await expectProblem(
      await call(self, { method: "PATCH", token: ws.token, json: { role: "reviewer" } }),
      409,
      "LAST_ADMIN",
    );
    await expectProblem(
      await call(`/v1/admin/tokens/${ws.tokenId}`, { method: "DELETE", token: ws.token }),
      409,
      "LAST_ADMIN",
    );
    // A reviewer is not an admin; a service account admin does not count either.
    await person(ws.token, "reviewer");
    const bot = await invite(ws.token, { kind: "service", name: "ops", handle: uniqueKey("ops"), role: "admin" });
    expect(bot.kind).toBe("service");
    await expectProblem(await call(self, { method: "DELETE", token: ws.token }), 409, "LAST_ADMIN");
    // Once another person is admin, the first admin token is an ordinary one.
    const second = await person(ws.token, "admin");
    const revoked = await expectJson<{ revokedAt: number }>(
      await call(`/v1/admin/tokens/${ws.tokenId}`, { method: "DELETE", token: ws.token }),
      200,
    );
    expect(revoked.revokedAt).toBeGreaterThan(0);
    await expectProblem(await call("/v1/admin/apps", { token: ws.token }), 401, "UNAUTHENTICATED");
    // The first admin, without a working token, still counts; once removed, the second is the last.
    await expectJson(await call(self, { method: "DELETE", token: second.token }), 200);
    await expectProblem(
      await call(`/v1/admin/members/${second.id}`, { method: "DELETE", token: second.token }),
      409,
      "LAST_ADMIN",
    );
  });
});

describe("tokens", () => {
  it("are listed with prefix, scopes, expiry and last use, never their secret", async () => {
    const ws = await newWorkspace();
    const t = await newToken(ws.token, { name: "laptop", expiresAt: Date.now() + 10 * DAY });
    expect(t.prefix).toBe(t.secret.slice(0, 12));
    expect(await status(t.secret)).toBe(200);
    const list = await expectJson<{ items: (TokenJson & Record<string, unknown>)[] }>(
      await call("/v1/admin/tokens", { token: ws.token }),
      200,
    );
    const listed = list.items.find((x) => x.id === t.id);
    expect(listed).toMatchObject({ prefix: t.prefix, scopes: { access: "full", miniProgramIds: null } });
    expect(listed?.lastUsedAt).toBeGreaterThan(0);
    expect(JSON.stringify(list)).not.toContain(t.secret);
    expect(JSON.stringify(list)).not.toContain("tokenHash");
  });

  it("write their last use at most once a minute", async () => {
    const ws = await newWorkspace();
    await status(ws.token);
    const first = await count("select last_used_at as n from api_tokens where id = ?", ws.tokenId);
    await status(ws.token);
    expect(await count("select last_used_at as n from api_tokens where id = ?", ws.tokenId)).toBe(first);
    await env.DB.prepare("update api_tokens set last_used_at = ? where id = ?")
      .bind(first - 61_000, ws.tokenId)
      .run();
    await status(ws.token);
    expect(await count("select last_used_at as n from api_tokens where id = ?", ws.tokenId)).toBeGreaterThanOrEqual(
      first,
    );
  });

  it("stop working when expired or revoked, on the next request", async () => {
    const ws = await newWorkspace();
    const t = await newToken(ws.token, { name: "short" });
    expect(await status(t.secret)).toBe(200);
    await env.DB.prepare("update api_tokens set expires_at = ? where id = ?")
      .bind(Date.now() - 1, t.id)
      .run();
    await expectProblem(await call("/v1/admin/apps", { token: t.secret }), 401, "UNAUTHENTICATED");
    const u = await newToken(ws.token, { name: "other" });
    expect(await status(u.secret)).toBe(200);
    await expectJson(await call(`/v1/admin/tokens/${u.id}`, { method: "DELETE", token: ws.token }), 200);
    await expectProblem(await call("/v1/admin/apps", { token: u.secret }), 401, "UNAUTHENTICATED");
  });

  it("rotate: the new secret works, the old one for the overlap only", async () => {
    const ws = await newWorkspace();
    const t = await newToken(ws.token, { name: "ci", expiresAt: Date.now() + 30 * DAY });
    const rotated = await expectJson<TokenJson & { previous: { id: string; expiresAt: number } }>(
      await call(`/v1/admin/tokens/${t.id}/rotations`, {
        method: "POST",
        token: ws.token,
        json: { overlapSeconds: 600 },
      }),
      201,
    );
    expect(rotated.secret).not.toBe(t.secret);
    expect(rotated.expiresAt).toBe(t.expiresAt);
    expect(rotated.previous.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(await status(rotated.secret)).toBe(200);
    expect(await status(t.secret)).toBe(200);
    // The old one, still working for its overlap, cannot be rotated again.
    await expectProblem(
      await call(`/v1/admin/tokens/${t.id}/rotations`, { method: "POST", token: ws.token }),
      409,
      "CONFLICT",
    );
    // A token made by rotation is a resource of the workspace for the audit filter.
    await expectJson(await call(`/v1/admin/audit-logs?resourceId=${rotated.id}`, { token: ws.token }), 200);
    const again = await expectJson<TokenJson>(
      await call(`/v1/admin/tokens/${rotated.id}/rotations`, {
        method: "POST",
        token: ws.token,
        json: { overlapSeconds: 0 },
      }),
      201,
    );
    await expectProblem(await call("/v1/admin/apps", { token: rotated.secret }), 401, "UNAUTHENTICATED");
    expect(await status(again.secret)).toBe(200);
    // Without a body: the default overlap of one hour.
    const third = await expectJson<{ previous: { expiresAt: number } }>(
      await call(`/v1/admin/tokens/${again.id}/rotations`, { method: "POST", token: ws.token }),
      201,
    );
    expect(third.previous.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it("have scopes that only narrow, intersected with the owner's current role", async () => {
    const ws = await newWorkspace();
    // Unsigned uploads: this test is about scopes (publishing.test.ts covers signatures).
    await expectJson(
      await call("/v1/admin/workspace", { method: "PATCH", token: ws.token, json: { requireSignedUploads: false } }),
      200,
    );
    const app = await createApp(ws.token);
    const a = await createMiniProgram(ws.token);
    const b = await createMiniProgram(ws.token);
    await uploadVersion(ws.token, a.key, "1.0.0");

    const read = await newToken(ws.token, { name: "read", scopes: { access: "read" } });
    expect(await status(read.secret)).toBe(200);
    await expectProblem(await uploadRequest(read.secret, a.key, "1.1.0", makeZip({ "a.js": "1" })), 403, "FORBIDDEN");
    await expectProblem(
      await call("/v1/admin/tokens", { method: "POST", token: read.secret, json: { name: "x" } }),
      403,
      "FORBIDDEN",
    );
    // Any token may revoke itself, but a read token no other one.
    const readTwo = await newToken(ws.token, { name: "read 2", scopes: { access: "read" } });
    await expectProblem(
      await call(`/v1/admin/tokens/${read.id}`, { method: "DELETE", token: readTwo.secret }),
      403,
      "FORBIDDEN",
    );
    await expectJson(await call(`/v1/admin/tokens/${readTwo.id}`, { method: "DELETE", token: readTwo.secret }), 200);
    await expectProblem(await call("/v1/admin/apps", { token: readTwo.secret }), 401, "UNAUTHENTICATED");

    const publish = await newToken(ws.token, { name: "ci", scopes: { access: "publish", miniProgramIds: [a.key] } });
    expect(publish.scopes).toEqual({ access: "publish", miniProgramIds: [a.id] });
    expect((await uploadRequest(publish.secret, a.key, "1.1.0", makeZip({ "a.js": "2" }))).status).toBe(201);
    await expectProblem(
      await uploadRequest(publish.secret, b.key, "1.0.0", makeZip({ "b.js": "1" })),
      403,
      "FORBIDDEN",
    );
    const release = await expectJson<{ id: string }>(
      await createReleaseRequest(publish.secret, {
        miniProgramId: a.key,
        version: "1.1.0",
        appId: app.key,
        env: "prod",
      }),
      201,
    );
    await expectProblem(await transitionRequest(publish.secret, release.id, "in_review"), 403, "FORBIDDEN");
    const seen = await expectJson<{ items: { id: string }[] }>(
      await call("/v1/admin/mini-programs", { token: publish.secret }),
      200,
    );
    expect(seen.items.map((m) => m.id)).toEqual([a.id]);
    await expectProblem(
      await call("/v1/admin/apps", {
        method: "POST",
        token: publish.secret,
        json: { key: uniqueKey("x"), name: "x", platforms: ["ios"] },
      }),
      403,
      "FORBIDDEN",
    );

    // A limited token cannot make a wider one.
    const limited = await newToken(ws.token, { name: "a only", scopes: { access: "full", miniProgramIds: [a.id] } });
    const wider = await call("/v1/admin/tokens", {
      method: "POST",
      token: limited.secret,
      json: { name: "wider", scopes: { access: "full" } },
    });
    const { body } = await expectProblem(wider, 422, "SCOPE_TOO_WIDE");
    expect(body.errors?.[0]?.pointer).toBe("/scopes");
    const inherited = await newToken(limited.secret, { name: "same" });
    expect(inherited.scopes).toEqual({ access: "full", miniProgramIds: [a.id] });

    // A developer's full token does what a developer may, no more; its rights follow the role.
    const dev = await person(ws.token, "developer", { miniProgramRoles: [{ miniProgramId: a.id, role: "developer" }] });
    expect((await uploadRequest(dev.token, a.key, "1.2.0", makeZip({ "a.js": "3" }))).status).toBe(201);
    await expectProblem(await uploadRequest(dev.token, b.key, "1.2.0", makeZip({ "b.js": "3" })), 403, "FORBIDDEN");
    await expectJson(
      await call(`/v1/admin/mini-programs/${a.key}/members/${dev.id}`, { method: "DELETE", token: ws.token }),
      200,
    );
    await expectProblem(await uploadRequest(dev.token, a.key, "1.3.0", makeZip({ "a.js": "4" })), 403, "FORBIDDEN");
  });
});

describe("mini program roles", () => {
  it("a developer uploads only where they are a member; a developer who creates a mini program administers it", async () => {
    const ws = await makeWorkspace("admin", { selfApproval: false });
    const app = await createApp(ws.token);
    const theirs = await createMiniProgram(ws.token);
    const dev = await person(ws.token, "developer");
    await expectProblem(
      await uploadRequest(dev.token, theirs.key, "1.0.0", makeZip({ "a.js": "1" })),
      403,
      "FORBIDDEN",
    );
    const own = await createMiniProgram(dev.token);
    const release = await uploadAndRelease(dev.token, { miniProgram: own.key, appKey: app.key, env: "prod" }, "1.0.0");
    await transition(dev.token, release.id, "in_review");
    // Only admins and reviewers approve; a mini program admin is neither.
    await expectProblem(await transitionRequest(dev.token, release.id, "approved"), 403, "FORBIDDEN");
    const list = await expectJson<{ items: { id: string }[] }>(
      await call("/v1/admin/mini-programs", { token: dev.token }),
      200,
    );
    expect(list.items.map((m) => m.id)).toEqual([own.id]);
    const created = await expectJson<{ items: { after: { creatorRole?: unknown } }[] }>(
      await call(`/v1/admin/audit-logs?resourceId=${own.id}&action=mini_program.create`, { token: ws.token }),
      200,
    );
    expect(created.items[0]?.after.creatorRole).toEqual({ memberId: dev.id, role: "admin" });
    // Allowlists: developers see names and counts (to target with them), not entries.
    const al = await expectJson<{ id: string }>(
      await call("/v1/admin/allowlists", {
        method: "POST",
        token: ws.token,
        json: { name: uniqueKey("l"), kind: "user" },
      }),
      201,
    );
    await call(`/v1/admin/allowlists/${al.id}/entries`, {
      method: "PUT",
      token: ws.token,
      headers: { "content-type": "text/plain" },
      body: "alice\nre:^staff-[0-9]+$\n",
    });
    const seenByDev = await expectJson<Record<string, unknown>>(
      await call(`/v1/admin/allowlists/${al.id}`, { token: dev.token }),
      200,
    );
    expect(seenByDev.exactCount).toBe(1);
    expect(seenByDev).not.toHaveProperty("regexEntries");
    await expectProblem(await call(`/v1/admin/allowlists/${al.id}/entries`, { token: dev.token }), 403, "FORBIDDEN");
    const seenByAdmin = await expectJson<Record<string, unknown>>(
      await call(`/v1/admin/allowlists/${al.id}`, { token: ws.token }),
      200,
    );
    expect(seenByAdmin.regexEntries).toEqual(["^staff-[0-9]+$"]);
    await expectProblem(await call(`/v1/admin/mini-programs/${theirs.key}`, { token: dev.token }), 403, "FORBIDDEN");
    // The mini program admin adds a colleague to their own mini program, not to others.
    const colleague = await person(ws.token, "developer");
    await expectJson(
      await call(`/v1/admin/mini-programs/${own.key}/members/${colleague.id}`, {
        method: "PUT",
        token: dev.token,
        json: { role: "developer" },
      }),
      200,
    );
    await expectProblem(
      await call(`/v1/admin/mini-programs/${theirs.key}/members/${colleague.id}`, {
        method: "PUT",
        token: dev.token,
        json: { role: "developer" },
      }),
      403,
      "FORBIDDEN",
    );
    expect((await uploadRequest(colleague.token, own.key, "1.1.0", makeZip({ "a.js": "2" }))).status).toBe(201);
  });
});

describe("self-approval", () => {
  it("is refused unless the workspace allows it", async () => {
    const ws = await makeWorkspace("admin", { selfApproval: false });
    const app = await createApp(ws.token);
    const mp = await createMiniProgram(ws.token);
    const release = await uploadAndRelease(ws.token, { miniProgram: mp.key, appKey: app.key, env: "prod" }, "1.0.0");
    await transition(ws.token, release.id, "in_review");
    await expectProblem(await transitionRequest(ws.token, release.id, "approved"), 403, "FORBIDDEN");
    const reviewer = await person(ws.token, "reviewer");
    expect((await transitionRequest(reviewer.token, release.id, "approved")).status).toBe(200);

    const next = await uploadAndRelease(ws.token, { miniProgram: mp.key, appKey: app.key, env: "test" }, "1.1.0");
    await transition(ws.token, next.id, "in_review");
    await expectJson(
      await call("/v1/admin/workspace", { method: "PATCH", token: ws.token, json: { allowSelfApproval: true } }),
      200,
    );
    expect((await transitionRequest(ws.token, next.id, "approved")).status).toBe(200);
  });
});

describe("brute force", () => {
  it("limits failed attempts per client address, then refuses even valid tokens from it", async () => {
    const ws = await newWorkspace();
    const address = `192.0.2.${Math.floor(Math.random() * 250)}`;
    const from = (token: string, ip = address) =>
      call("/v1/admin/apps", { token, headers: { "cf-connecting-ip": ip } });
    const wrong = `upd_${"0".repeat(32)}`;
    for (let i = 0; i < FAILURE_LIMIT - 1; i++) expect((await from(wrong)).status).toBe(401);
    // A failed invite exchange counts the same.
    const bad = await call("/v1/invites/accept", {
      method: "POST",
      headers: { "cf-connecting-ip": address },
      json: { secret: `updi_${"0".repeat(32)}` },
    });
    expect(bad.status).toBe(401);
    const blocked = await from(ws.token);
    await expectProblem(blocked, 429, "RATE_LIMITED");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another address is not affected; an IPv6 address is counted by its /64.
    expect((await from(ws.token, "192.0.2.251")).status).toBe(200);
    for (let i = 0; i < FAILURE_LIMIT; i++) await from(wrong, `2001:db8:1:2::${i.toString(16)}`);
    await expectProblem(await from(ws.token, "2001:db8:1:2:ffff::1"), 429, "RATE_LIMITED");
    expect((await from(ws.token, "2001:db8:1:3::1")).status).toBe(200);
  });
});

describe("audit", () => {
  it("records every access change without secrets, filterable by actor, resource, action and time", async () => {
    const ws = await newWorkspace();
    const started = Date.now();
    const m = await invite(ws.token, { name: "Dev", handle: uniqueKey("dev"), role: "developer" });
    const accepted = await accept(m.invite?.secret ?? "");
    const t = await newToken(ws.token, { name: "ci", scopes: { access: "publish" } });
    await call(`/v1/admin/tokens/${t.id}/rotations`, { method: "POST", token: ws.token });
    await call(`/v1/admin/tokens/${t.id}`, { method: "DELETE", token: ws.token });
    await call(`/v1/admin/members/${m.id}`, { method: "PATCH", token: ws.token, json: { role: "reviewer" } });
    await call(`/v1/admin/members/${m.id}`, { method: "DELETE", token: ws.token });
    const page = async (q: string) =>
      (
        await expectJson<{ items: { action: string; actorMemberId: string; resourceId: string }[] }>(
          await call(`/v1/admin/audit-logs?${q}`, { token: ws.token }),
          200,
        )
      ).items;
    const all = await page("limit=200");
    expect(all.map((r) => r.action).reverse()).toEqual([
      "workspace.create",
      "member.add",
      "member.accept_invite",
      "token.create",
      "token.rotate",
      "token.revoke",
      "member.update",
      "member.remove",
    ]);
    const text = JSON.stringify(all);
    for (const secret of [ws.token, m.invite?.secret ?? "", accepted.token.secret, t.secret]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/tokenHash|secretHash|[0-9a-f]{64}/);
    expect((await page(`actor=${m.id}`)).map((r) => r.action)).toEqual(["member.accept_invite"]);
    expect((await page(`resourceId=${m.id}`)).map((r) => r.action)).toEqual([
      "member.remove",
      "member.update",
      "member.add",
    ]);
    expect((await page("action=token.revoke")).map((r) => r.resourceId)).toEqual([t.id]);
    expect((await page(`resourceType=token&from=${started}`)).length).toBe(4);
    expect(await page(`to=${started - 10 * DAY}`)).toEqual([]);
    await expectProblem(await call("/v1/admin/audit-logs?actor=mem_unknown", { token: ws.token }), 404, "NOT_FOUND");
  });
});

describe("upgrade migration", () => {
  it("makes workspace developers mini program developers of every existing mini program", async () => {
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0002"));
    const insert = migration?.queries.find((q) => q.includes("INSERT INTO `mini_program_members`"));
    expect(insert).toBeDefined();
    const ws = await makeWorkspace();
    const mp = await createMiniProgram(ws.token);
    const devId = `mem_${uniqueKey("old").replaceAll("-", "")}`;
    await env.DB.prepare(
      "insert into members (id, workspace_id, name, email, handle, role, created_at) values (?, ?, 'd', ?, ?, 'developer', 0)",
    )
      .bind(devId, ws.workspaceId, `${devId}@example.test`, `${devId}@example.test`)
      .run();
    await env.DB.prepare(insert ?? "").run();
    await env.DB.prepare(insert ?? "").run();
    expect(
      await count(
        "select count(*) as n from mini_program_members where member_id = ? and mini_program_id = ? and role = 'developer'",
        devId,
        mp.id,
      ),
    ).toBe(1);
    // Admins get no rows: they reach every mini program anyway.
    expect(await count("select count(*) as n from mini_program_members where member_id = ?", ws.memberId)).toBe(0);
  });
});
