import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AppJson,
  auditCount,
  auditCountForRequest,
  createApp,
  createReleaseRequest,
  expectJson,
  expectProblem,
  type MiniProgramJson,
  type ReleaseJson,
  transitionRequest,
  uploadRequest,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

interface AuditJson {
  id: string;
  workspaceId: string;
  actorMemberId: string;
  actorTokenId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  before: unknown;
  after: unknown;
  requestId: string;
  createdAt: number;
}

interface Actor {
  token: string;
  memberId: string;
  tokenId: string;
}

const tokenIdOf = async (memberId: string) =>
  (await env.DB.prepare("select id from api_tokens where member_id = ?").bind(memberId).first<{ id: string }>())?.id ??
  "";

let workspaceId: string;
let admin: Actor;
let reviewer: Actor;
let developer: Actor;

beforeAll(async () => {
  const ws = await makeWorkspace();
  workspaceId = ws.workspaceId;
  admin = { token: ws.token, memberId: ws.memberId, tokenId: await tokenIdOf(ws.memberId) };
  const r = await addMember(ws.workspaceId, "reviewer");
  reviewer = { ...r, tokenId: await tokenIdOf(r.memberId) };
  const d = await addMember(ws.workspaceId, "developer");
  developer = { ...d, tokenId: await tokenIdOf(d.memberId) };
});

async function auditPage(token: string, query: string) {
  return expectJson<{ items: AuditJson[]; nextCursor: string | null }>(
    await call(`/v1/admin/audit-logs?${query}`, { token }),
    200,
  );
}

/** The whole audit log of the workspace through the API, following cursors. */
async function wholeLog(limit = 200): Promise<{ items: AuditJson[]; pages: AuditJson[][] }> {
  const pages: AuditJson[][] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    const page = await auditPage(admin.token, query.toString());
    pages.push(page.items);
    cursor = page.nextCursor;
    expect(pages.length).toBeLessThan(1000);
  } while (cursor !== null);
  return { items: pages.flat(), pages };
}

interface Expected {
  requestId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  actor: Actor;
  transition?: { from: string; to: string };
  /** What the row's `after` must contain, when it is not the created resource itself. */
  after?: Record<string, unknown>;
}

describe("audit log", () => {
  const expected: Expected[] = [];
  let app: AppJson;
  let mp: MiniProgramJson;
  const releases: Record<string, ReleaseJson> = {};

  /** Runs a mutation that must succeed and records the audit row it must write. */
  async function mutate<T extends { id: string }>(
    res: Response,
    status: number,
    step: Omit<Expected, "requestId" | "resourceId" | "actor"> & { actor?: Actor; resourceId?: string },
  ): Promise<T> {
    const body = await expectJson<T>(res, status);
    const requestId = res.headers.get("request-id") ?? "";
    expect(requestId).toMatch(/^req_/);
    expected.push({ ...step, requestId, resourceId: step.resourceId ?? body.id, actor: step.actor ?? admin });
    return body;
  }

  async function move(name: string, to: string, actor: Actor = admin, reason?: string) {
    const release = releases[name];
    if (!release) throw new Error(`no release ${name}`);
    const moved = await mutate<ReleaseJson>(await transitionRequest(actor.token, release.id, to, reason), 200, {
      action: "release.transition",
      resourceType: "release",
      actor,
      transition: { from: release.status, to },
    });
    releases[name] = moved;
  }

  async function newRelease(name: string, version: string, envName: string) {
    const res = await createReleaseRequest(admin.token, {
      miniProgramId: mp.key,
      version,
      appId: app.key,
      env: envName,
    });
    releases[name] = await mutate<ReleaseJson>(res, 201, { action: "release.create", resourceType: "release" });
  }

  beforeAll(async () => {
    app = await mutate<AppJson>(
      await call("/v1/admin/apps", {
        method: "POST",
        token: admin.token,
        json: { key: uniqueKey("audit"), name: "Audited", platforms: ["ios"] },
      }),
      201,
      { action: "app.create", resourceType: "app" },
    );
    await mutate(
      await call(`/v1/admin/apps/${app.key}/environments`, {
        method: "POST",
        token: admin.token,
        json: { name: "staging" },
      }),
      201,
      { action: "environment.create", resourceType: "environment" },
    );
    mp = await mutate<MiniProgramJson>(
      await call("/v1/admin/mini-programs", {
        method: "POST",
        token: admin.token,
        json: { key: uniqueKey("mp"), names: { en: "Audited" } },
      }),
      201,
      { action: "mini_program.create", resourceType: "mini_program" },
    );
    // Developers upload only to mini programs they are members of.
    await mutate(
      await call(`/v1/admin/mini-programs/${mp.key}/members/${developer.memberId}`, {
        method: "PUT",
        token: admin.token,
        json: { role: "developer" },
      }),
      200,
      {
        action: "mini_program.member.set",
        resourceType: "mini_program",
        resourceId: mp.id,
        after: { memberId: developer.memberId, role: "developer" },
      },
    );
    for (const [version, actor] of [
      ["1.0.0", admin],
      ["2.0.0", developer],
    ] as const) {
      await mutate(await uploadRequest(actor.token, mp.key, version, makeZip({ "index.js": version })), 201, {
        action: "version.upload",
        resourceType: "version",
        actor,
      });
    }

    await newRelease("a", "1.0.0", "prod");
    await move("a", "in_review");
    await move("a", "rejected", reviewer, "needs work");
    await move("a", "created");
    await move("a", "in_review");
    await move("a", "approved", reviewer);
    await move("a", "canary");
    await move("a", "paused");
    await move("a", "canary");
    await move("a", "full");
    await move("a", "paused");
    await move("a", "full");

    await newRelease("b", "2.0.0", "prod");
    await move("b", "in_review");
    await move("b", "approved");
    await move("b", "full");
    await move("b", "ended");

    await newRelease("c", "2.0.0", "staging");
    await move("c", "cancelled");
  });

  it("every successful mutation writes exactly one row with the right action, resource and actor", async () => {
    const { items } = await wholeLog();
    const archived = releases.a?.id;
    for (const step of expected) {
      const rows = items.filter((row) => row.requestId === step.requestId);
      const own = rows.filter((row) => row.resourceId === step.resourceId);
      expect(own, `${step.action} ${step.transition?.to ?? ""}`).toHaveLength(1);
      // Only the transition that supersedes a full release may also record that release's archiving.
      expect(rows.filter((row) => row.resourceId !== step.resourceId && row.resourceId !== archived)).toEqual([]);
      const row = own[0] as AuditJson;
      expect(row).toMatchObject({
        workspaceId,
        action: step.action,
        resourceType: step.resourceType,
        resourceId: step.resourceId,
        actorMemberId: step.actor.memberId,
        actorTokenId: step.actor.tokenId,
        requestId: step.requestId,
      });
      expect(row.id).toMatch(/^aud_/);
      expect(row.createdAt).toBeGreaterThan(0);
      if (step.transition) {
        expect(row.before).toMatchObject({ status: step.transition.from });
        expect(row.after).toMatchObject({ status: step.transition.to });
      } else {
        expect(row.before).toBeNull();
        expect(row.after).toMatchObject(step.after ?? { id: step.resourceId });
      }
    }
    // Nothing else was written: every row belongs to a recorded mutation (or the workspace bootstrap).
    const known = new Set([...expected.map((s) => s.requestId), "test"]);
    expect(items.filter((row) => !known.has(row.requestId))).toEqual([]);
    const archiving = (row: AuditJson) =>
      row.resourceId === archived && (row.after as { status?: string } | null)?.status === "archived";
    expect(items.filter((row) => !archiving(row))).toHaveLength(expected.length + 1);
  });

  it("a release superseded by a newer full release has its archiving audited", async () => {
    const a = releases.a as ReleaseJson;
    expect(
      (await expectJson<ReleaseJson>(await call(`/v1/admin/releases/${a.id}`, { token: admin.token }), 200)).status,
    ).toBe("archived");
    const { items } = await wholeLog();
    const archiving = items.filter(
      (row) => row.resourceId === a.id && (row.after as { status?: string } | null)?.status === "archived",
    );
    expect(archiving).toHaveLength(1);
    expect(archiving[0]?.before).toMatchObject({ status: "full" });
  });

  it("pages newest first with limit=2 and nextCursor, covering the whole log exactly once", async () => {
    const all = await wholeLog(200);
    expect(all.pages).toHaveLength(1);
    const paged = await wholeLog(2);
    expect(paged.pages.length).toBe(Math.ceil(all.items.length / 2));
    for (const page of paged.pages.slice(0, -1)) expect(page).toHaveLength(2);
    expect(paged.pages.at(-1)?.length).toBeGreaterThan(0);
    expect(paged.items.map((r) => r.id)).toEqual(all.items.map((r) => r.id));
    expect(new Set(paged.items.map((r) => r.id)).size).toBe(paged.items.length);
    for (let i = 1; i < all.items.length; i++) {
      expect(all.items[i - 1]?.createdAt).toBeGreaterThanOrEqual(all.items[i]?.createdAt ?? 0);
    }
    const first = await auditPage(admin.token, "limit=2");
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await auditPage(admin.token, `limit=2&cursor=${encodeURIComponent(first.nextCursor ?? "")}`);
    expect(second.items.map((r) => r.id)).toEqual(all.items.slice(2, 4).map((r) => r.id));
  });

  it("is readable by reviewers, not by developers", async () => {
    expect((await auditPage(reviewer.token, "limit=1")).items).toHaveLength(1);
    await expectProblem(await call("/v1/admin/audit-logs", { token: developer.token }), 403, "FORBIDDEN");
  });

  it("only shows the caller's workspace", async () => {
    const other = await makeWorkspace();
    await createApp(other.token);
    const { items } = await wholeLog();
    expect(items.every((row) => row.workspaceId === workspaceId)).toBe(true);
  });

  describe("rejected mutations write nothing", () => {
    const rejected: [string, number, string, () => Promise<Response>][] = [
      [
        "app create failing validation",
        400,
        "VALIDATION_FAILED",
        () =>
          call("/v1/admin/apps", { method: "POST", token: admin.token, json: { key: "x", name: "", platforms: [] } }),
      ],
      [
        "app create by a reviewer",
        403,
        "FORBIDDEN",
        () =>
          call("/v1/admin/apps", {
            method: "POST",
            token: reviewer.token,
            json: { key: uniqueKey("r"), name: "x", platforms: ["ios"] },
          }),
      ],
      [
        "release create by a developer",
        403,
        "FORBIDDEN",
        () =>
          createReleaseRequest(developer.token, {
            miniProgramId: mp.key,
            version: "2.0.0",
            appId: app.key,
            env: "test",
          }),
      ],
      [
        "a duplicate app key",
        409,
        "CONFLICT",
        () =>
          call("/v1/admin/apps", {
            method: "POST",
            token: admin.token,
            json: { key: app.key, name: "x", platforms: ["ios"] },
          }),
      ],
      [
        "a duplicate environment",
        409,
        "CONFLICT",
        () =>
          call(`/v1/admin/apps/${app.key}/environments`, {
            method: "POST",
            token: admin.token,
            json: { name: "staging" },
          }),
      ],
      [
        "a duplicate mini program",
        409,
        "CONFLICT",
        () =>
          call("/v1/admin/mini-programs", {
            method: "POST",
            token: admin.token,
            json: { key: mp.key, names: { en: "x" } },
          }),
      ],
      [
        "a version with different bytes",
        409,
        "VERSION_CONFLICT",
        () => uploadRequest(admin.token, mp.key, "1.0.0", makeZip({ "index.js": "different" })),
      ],
      [
        "an identical version replay (200, not a new write)",
        200,
        "",
        () => uploadRequest(admin.token, mp.key, "1.0.0", makeZip({ "index.js": "1.0.0" })),
      ],
      ["ended → full", 409, "INVALID_TRANSITION", () => transitionRequest(admin.token, releases.b?.id ?? "", "full")],
      [
        "cancelled → in_review",
        409,
        "INVALID_TRANSITION",
        () => transitionRequest(admin.token, releases.c?.id ?? "", "in_review"),
      ],
      [
        "a transition by a developer",
        403,
        "FORBIDDEN",
        () => transitionRequest(developer.token, releases.b?.id ?? "", "paused"),
      ],
      [
        "a transition of an unknown release",
        404,
        "NOT_FOUND",
        () => transitionRequest(admin.token, "rel_00000000000000000000", "paused"),
      ],
    ];

    it.each(rejected)("%s", async (_name, status, code, send) => {
      const before = await auditCount(workspaceId);
      const res = await send();
      const requestId = res.headers.get("request-id") ?? "";
      if (code === "") expect((await res.text()).length).toBeGreaterThan(0);
      else await expectProblem(res, status, code);
      expect(res.status).toBe(status);
      expect(await auditCountForRequest(requestId)).toBe(0);
      expect(await auditCount(workspaceId)).toBe(before);
    });
  });

  it("uploads a version for a developer as the acting member", async () => {
    const version = await uploadVersion(developer.token, mp.key, "3.0.0");
    const { items } = await wholeLog();
    const row = items.find((r) => r.resourceId === version.id);
    expect(row).toMatchObject({ action: "version.upload", actorMemberId: developer.memberId });
  });
});
