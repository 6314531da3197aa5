import { beforeAll, describe, expect, it } from "vitest";
import {
  type Actor,
  can,
  type MemberKind,
  MINI_PROGRAM_PERMISSIONS,
  type MiniProgramRole,
  mayHold,
  type Permission,
  type TokenAccess,
  type WorkspaceRole,
} from "../../src/domain/permissions";
import { ROUTE_PERMISSIONS } from "../../src/http/access";
import {
  addMemberViaApi,
  addPublisherKeyViaApi,
  auditRowsOf,
  createTokenViaApi,
  failedPatchFixture,
  fingerprint,
  newPublisherPublicKey,
  releaseFixture,
  type StoredPackage,
  versionFixture,
} from "../support/access-fixtures";
import {
  type AppJson,
  createApp,
  createMiniProgram,
  type MiniProgramJson,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

// The generated route × principal matrix (the requirement: "One declarative route → permission
// table, default deny"). Every admin operation of the OpenAPI document is sent, as a valid request, with a token of
// every principal below. The expected outcome is derived from ROUTE_PERMISSIONS and the permission
// functions for the resource's own mini program (A): an allowed call answers 2xx and its write is
// visible (an audit row with the response's request id, the workspace's rows changed); a denied one
// answers 403 FORBIDDEN and writes nothing; a read answers 200 and writes nothing. Any other answer
// fails, as does an operation missing from the table (or from this file's requests) and a table
// entry naming no operation. Each route gets its own workspace; each test builds its own fixture.

// ---------------------------------------------------------------------------------------------
// Principals

type MemberName = "admin" | "reviewer" | "devA" | "mpAdminA" | "devB" | "service";
type MpName = "A" | "B";

/** The members of every matrix workspace: a workspace role and roles on mini programs A and B. */
const MEMBERS: Record<
  MemberName,
  { kind: MemberKind; role: WorkspaceRole; mp: Partial<Record<MpName, MiniProgramRole>> }
> = {
  admin: { kind: "person", role: "admin", mp: {} },
  reviewer: { kind: "person", role: "reviewer", mp: {} },
  devA: { kind: "person", role: "developer", mp: { A: "developer" } },
  mpAdminA: { kind: "person", role: "developer", mp: { A: "admin" } },
  devB: { kind: "person", role: "developer", mp: { B: "admin" } },
  service: { kind: "service", role: "developer", mp: { A: "developer" } },
};

interface PrincipalSpec {
  name: string;
  member: MemberName;
  /** The token's scopes; omitted: the member's first (full, unlimited) token. Made through POST /v1/admin/tokens. */
  scope?: { access: TokenAccess; miniProgramIds?: MpName[] };
}

const PRINCIPALS: readonly PrincipalSpec[] = [
  { name: "workspace admin", member: "admin" },
  { name: "workspace reviewer", member: "reviewer" },
  { name: "developer of A", member: "devA" },
  { name: "mini program admin of A", member: "mpAdminA" },
  { name: "developer with a role on B only", member: "devB" },
  { name: "admin with a read token", member: "admin", scope: { access: "read" } },
  { name: "admin with a publish token", member: "admin", scope: { access: "publish" } },
  { name: "admin with a token limited to B", member: "admin", scope: { access: "full", miniProgramIds: ["B"] } },
  { name: "developer of A with a publish token", member: "devA", scope: { access: "publish" } },
  { name: "service account (developer of A)", member: "service" },
];

interface Principal {
  spec: PrincipalSpec;
  token: string;
  tokenId: string;
  memberId: string;
  /** A full, unlimited token of the same member, for fixtures (tokens of this member). */
  memberToken: string;
  /** The scopes to give a token of this principal's own (within its token's). */
  apiScope: { access: TokenAccess; miniProgramIds?: string[] };
  /** The actor the product should see: what the expectation is computed from. */
  actor: Actor;
}

/**
 * One workspace with mini programs A and B, a host app and every principal. Mini programs, the app,
 * the service account and every token but the persons' first are made through the admin API.
 */
interface World {
  workspaceId: string;
  /** Another admin, who builds the fixtures (and submits releases for review). */
  owner: { token: string; memberId: string; tokenId: string };
  a: MiniProgramJson;
  b: MiniProgramJson;
  app: AppJson;
  /** The app's prod environment, where release fixtures go. */
  prodId: string;
  principals: Map<string, Principal>;
  /** Package bytes uploaded once through the API, which version fixtures point at. */
  pkg?: StoredPackage;
}

async function buildWorld(): Promise<World> {
  // Self-approval is off (the product's default): a release is approved by someone who did not submit it.
  const ws = await makeWorkspace("admin", { selfApproval: false });
  const owner = { token: ws.token, memberId: ws.memberId, tokenId: ws.tokenId };
  const a = await createMiniProgram(owner.token);
  const b = await createMiniProgram(owner.token);
  const app = await createApp(owner.token, ["test", "prod"]);
  const mpIds: Record<MpName, string> = { A: a.id, B: b.id };
  const mpRoles = (name: MemberName) =>
    Object.entries(MEMBERS[name].mp).map(([mp, role]) => ({ miniProgramId: mpIds[mp as MpName], role }));

  // Persons go straight to D1 (the invite path is not what this matrix tests); their first token
  // is full and unlimited.
  const members = {} as Record<MemberName, { memberId: string; token: string; tokenId: string }>;
  for (const name of ["admin", "reviewer", "devA", "mpAdminA", "devB"] as const) {
    const roles = Object.fromEntries(mpRoles(name).map((r) => [r.miniProgramId, r.role]));
    members[name] = await addMember(ws.workspaceId, MEMBERS[name].role, roles);
  }
  // The service account and its token are made by the workspace admin principal.
  const service = await addMemberViaApi(members.admin.token, {
    kind: "service",
    role: MEMBERS.service.role,
    miniProgramRoles: mpRoles("service"),
  });
  const serviceToken = await createTokenViaApi(members.admin.token, { memberId: service.id });
  expect(serviceToken.memberId).toBe(service.id);
  members.service = { memberId: service.id, token: serviceToken.secret, tokenId: serviceToken.id };

  const principals = new Map<string, Principal>();
  for (const spec of PRINCIPALS) {
    const member = members[spec.member];
    const miniProgramIds = spec.scope?.miniProgramIds?.map((mp) => mpIds[mp]) ?? null;
    const apiScope = {
      access: spec.scope?.access ?? "full",
      ...(miniProgramIds === null ? {} : { miniProgramIds }),
    };
    let { token, tokenId } = member;
    if (spec.scope !== undefined) {
      const made = await createTokenViaApi(member.token, { scopes: apiScope });
      expect(made.scopes).toEqual({ access: apiScope.access, miniProgramIds });
      expect(made.memberId).toBe(member.memberId);
      token = made.secret;
      tokenId = made.id;
    }
    const miniProgramRoles: Record<string, MiniProgramRole> = {};
    for (const [mp, role] of Object.entries(MEMBERS[spec.member].mp)) miniProgramRoles[mpIds[mp as MpName]] = role;
    principals.set(spec.name, {
      spec,
      token,
      tokenId,
      memberId: member.memberId,
      memberToken: member.token,
      apiScope,
      actor: {
        memberId: member.memberId,
        workspaceId: ws.workspaceId,
        tokenId,
        kind: MEMBERS[spec.member].kind,
        role: MEMBERS[spec.member].role,
        miniProgramRoles,
        scope: { access: apiScope.access, miniProgramIds },
        tokenExpiresAt: null,
      },
    });
  }
  const prodId = app.environments.find((e) => e.name === "prod")?.id;
  if (prodId === undefined) throw new Error("the app has no prod environment");
  return { workspaceId: ws.workspaceId, owner, a, b, app, prodId, principals };
}

// ---------------------------------------------------------------------------------------------
// One valid request per route (some routes have several: the request decides what they need)

interface Req {
  method: string;
  path: string;
  json?: unknown;
  body?: BodyInit;
  type?: string;
  /**
   * For a write whose effect is outside D1, or in tables fingerprint() does not read (the feature
   * catalogue, mini programs' features, removal requests): reads that effect. An allowed request
   * must change what it returns, a denied one must not.
   */
  observe?: () => Promise<unknown>;
  /** The token to present instead of the principal's: one of the principal's member and scopes. */
  token?: string;
}

interface RouteRequest {
  /** Names the request when a route has several. */
  variant?: string;
  /** For a route listing several permissions: the one this request needs (the use case's choice). */
  permission?: Permission;
  /**
   * A rule beyond the table that the route applies to this request, stated explicitly (the table
   * alone does not decide it). Each use says why.
   */
  alsoNeeds?: (actor: Actor, w: World) => boolean;
  /** Reads write nothing; every GET is one, and POST /v1/admin/explain. */
  read?: boolean;
  /** Builds the fixture state this request needs (the test's own data) and returns the request. */
  build: (w: World, p: Principal) => Promise<Req>;
  /** What a 2xx body must show, for reads that are filtered rather than denied. */
  check?: (body: unknown, p: Principal, w: World) => void;
}

let seq = 0;
/** A number no other request of this file uses (version numbers, names). */
const next = () => {
  seq += 1;
  return seq;
};
const uniqueVersion = () => `1.0.${next()}`;

/** A workspace developer (with the given mini program roles), added straight to D1: a member routes' target. */
const targetMember = (w: World, mp: Partial<Record<MpName, MiniProgramRole>> = {}) =>
  addMember(w.workspaceId, "developer", Object.fromEntries(Object.entries(mp).map(([k, r]) => [mpId(w, k), r])));
const mpId = (w: World, mp: string) => (mp === "A" ? w.a.id : w.b.id);

/** The world's package bytes, uploaded through the API on first use. */
async function packageOf(w: World): Promise<StoredPackage> {
  if (w.pkg === undefined) {
    const uploaded = await uploadVersion(w.owner.token, w.a.id, "0.0.1");
    w.pkg = { sha256: uploaded.sha256, size: uploaded.size, fileCount: uploaded.fileCount, manifestSha256: null };
  }
  return w.pkg;
}

/** A new version of A (or B) by the owner: a version row over the world's uploaded package bytes. */
async function versionOf(w: World, mp: MpName = "A") {
  return versionFixture(w.workspaceId, mpId(w, mp), uniqueVersion(), await packageOf(w), w.owner.memberId);
}

/** A release of a new version of A (or B) on (app, prod), made (and submitted) by the owner. */
async function releaseOf(
  w: World,
  mp: MpName = "A",
  status: "created" | "in_review" | "full" = "created",
  environmentId = w.prodId,
) {
  const target = { appId: w.app.id, environmentId };
  return releaseFixture(w.workspaceId, target, await versionOf(w, mp), status, w.owner.memberId);
}

/** What a device of the app on `env` is told about A (first install). */
async function deviceCheck(w: World, env: string) {
  const res = await call("/v1/check", {
    method: "POST",
    json: { appId: w.app.key, env, deviceId: "device-1", miniPrograms: [{ id: w.a.key, version: null }] },
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const result = (JSON.parse(text) as { results: { action: string; version?: string }[] }).results[0];
  return { action: result?.action, version: result?.version };
}

/** A created release of A and a custom test QR code of it, made by the owner. */
async function qrCodeOf(w: World) {
  const release = await releaseOf(w);
  const res = await call(`/v1/admin/releases/${release.id}/qr-codes`, {
    method: "POST",
    token: w.owner.token,
    json: { pagePath: "pages/index" },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return `/v1/admin/releases/${release.id}/qr-codes/${(await res.json<{ id: string }>()).id}`;
}

async function allowlistOf(w: World) {
  const res = await call("/v1/admin/allowlists", {
    method: "POST",
    token: w.owner.token,
    json: { name: uniqueKey("list"), kind: "user" },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json<{ id: string }>()).id;
}

/** A GET by the owner, which must answer 200: what `observe` reads. */
async function ownerRead(w: World, path: string): Promise<unknown> {
  const res = await call(path, { token: w.owner.token });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text);
}

/** A catalogue feature made by the owner, on no mini program. */
async function featureOf(w: World) {
  const res = await call("/v1/admin/features", {
    method: "POST",
    token: w.owner.token,
    json: { name: uniqueKey("feature"), description: "A fixture", jsapis: ["my.getLocation", "my.chooseCity"] },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json<{ id: string; name: string }>();
}

/** A new catalogue feature, added to A by the owner. */
async function featureOnA(w: World) {
  const feature = await featureOf(w);
  const res = await call(`/v1/admin/mini-programs/${w.a.id}/features/${feature.id}`, {
    method: "PUT",
    token: w.owner.token,
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return feature;
}

/** A new publisher key of the workspace, added by the owner (not revoked). */
const publisherKeyOf = (w: World) => addPublisherKeyViaApi(w.owner.token);

const catalogue = (w: World) => () => ownerRead(w, "/v1/admin/features?limit=500");
const featuresOfA = (w: World) => () => ownerRead(w, `/v1/admin/mini-programs/${w.a.id}/features?limit=500`);

/**
 * The workspace's webhook, made or moved by the owner to a URL of its own. Nothing answers there
 * (deliveries fail at once, in the background, and change nothing fingerprint() reads).
 */
async function webhookOf(w: World) {
  const res = await call("/v1/admin/webhook", {
    method: "PUT",
    token: w.owner.token,
    json: { url: `http://127.0.0.1:9/hook-${next()}` },
  });
  expect([200, 201], await res.clone().text()).toContain(res.status);
}

/** The webhook as the owner reads it (its status too: 404 once deleted). */
const webhookState = (w: World) => async () => {
  const res = await call("/v1/admin/webhook", { token: w.owner.token });
  return { status: res.status, body: await res.text() };
};

/** The ids of the webhook's deliveries (their attempts go on in the background, so only the ids). */
const webhookDeliveryIds = (w: World) => async () =>
  ((await ownerRead(w, "/v1/admin/webhook/deliveries?limit=500")) as { items: { id: string }[] }).items.map(
    (d) => d.id,
  );

/** The pending removal request of a mini program: the one there is, or a new one the owner asks for. */
async function pendingRemovalOf(w: World, miniProgramId: string): Promise<string> {
  const pending = (await ownerRead(w, `/v1/admin/removal-requests?miniProgramId=${miniProgramId}&status=pending`)) as {
    items: { id: string }[];
  };
  const found = pending.items[0];
  if (found !== undefined) return found.id;
  const res = await call(`/v1/admin/mini-programs/${miniProgramId}/removal-requests`, {
    method: "POST",
    token: w.owner.token,
    json: { reason: "Sunset" },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json<{ id: string }>()).id;
}

/** Leaves A with no pending removal request (the owner rejects it), so that another may be asked for. */
async function noPendingRemovalOfA(w: World) {
  const pending = (await ownerRead(w, `/v1/admin/removal-requests?miniProgramId=${w.a.id}&status=pending`)) as {
    items: { id: string }[];
  };
  for (const { id } of pending.items) {
    const res = await call(`/v1/admin/removal-requests/${id}/decision`, {
      method: "POST",
      token: w.owner.token,
      json: { decision: "reject" },
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }
}

/** A token of the principal's own member, with the principal's scopes (so it may rotate it). */
async function ownToken(p: Principal) {
  return (await createTokenViaApi(p.memberToken, { scopes: p.apiScope })).id;
}

/** A token of a service account other than the principal (its own token for nobody in PRINCIPALS). */
async function serviceAccountToken(w: World) {
  const service = await addMemberViaApi(w.owner.token, { kind: "service", role: "developer" });
  return (await createTokenViaApi(w.owner.token, { memberId: service.id })).id;
}

// Token routes act on a token of the principal's own member (the table's permission is all reading
// or rotating it needs) or on someone else's: only token:admin (workspace admins) reaches other
// members' tokens, which is the use case's rule (manage-tokens.ts visibleToken), not the table's.
const OWN_TOKEN = "another token of the principal's own";
const OTHERS_TOKEN = "a service account's token (not the principal's)";
const othersTokenRule = (actor: Actor) => can(actor, "token:admin");

/** Asserts a filtered list shows exactly what the principal may read of A's and B's items. */
function expectFiltered(shown: { a: boolean; b: boolean }, actor: Actor, w: World) {
  // Lists of mini program resources are filtered, not denied: they show those of the mini programs
  // the actor may read (mini_program:read there), and no others.
  expect(shown, "the items of A and B listed").toEqual({
    a: can(actor, "mini_program:read", w.a.id),
    b: can(actor, "mini_program:read", w.b.id),
  });
}

const GET = (path: string) => async (): Promise<Req> => ({ method: "GET", path });

const REQUESTS: Record<string, RouteRequest[]> = {
  "GET /v1/admin/workspace": [{ build: GET("/v1/admin/workspace") }],
  "PATCH /v1/admin/workspace": [
    { build: async () => ({ method: "PATCH", path: "/v1/admin/workspace", json: { name: `Renamed ${next()}` } }) },
  ],

  "GET /v1/admin/members": [{ build: GET("/v1/admin/members") }],
  "POST /v1/admin/members": [
    {
      build: async (w) => {
        const handle = uniqueKey("new").toLowerCase();
        return {
          method: "POST",
          path: "/v1/admin/members",
          json: {
            kind: "person",
            name: "New member",
            handle,
            role: "developer",
            miniProgramRoles: [{ miniProgramId: w.a.id, role: "developer" }],
          },
        };
      },
    },
  ],
  "GET /v1/admin/members/{memberId}": [
    { build: async (w) => ({ method: "GET", path: `/v1/admin/members/${(await targetMember(w)).memberId}` }) },
  ],
  "PATCH /v1/admin/members/{memberId}": [
    {
      build: async (w) => ({
        method: "PATCH",
        path: `/v1/admin/members/${(await targetMember(w)).memberId}`,
        json: { name: "Renamed", role: "reviewer" },
      }),
    },
  ],
  "DELETE /v1/admin/members/{memberId}": [
    { build: async (w) => ({ method: "DELETE", path: `/v1/admin/members/${(await targetMember(w)).memberId}` }) },
  ],
  "POST /v1/admin/members/{memberId}/invites": [
    {
      build: async (w) => ({ method: "POST", path: `/v1/admin/members/${(await targetMember(w)).memberId}/invites` }),
    },
  ],

  "GET /v1/admin/tokens": [
    {
      build: GET("/v1/admin/tokens"),
      // Filtered, not denied: a member's own tokens, or every token of the workspace for token:admin.
      check: (body, p, w) => {
        const ids = (body as { items: { id: string }[] }).items.map((t) => t.id);
        expect(ids).toContain(p.tokenId);
        expect(ids.includes(w.owner.tokenId), "another member's token listed").toBe(can(p.actor, "token:admin"));
      },
    },
  ],
  "POST /v1/admin/tokens": [
    // For the principal itself, with the presenting token's scopes (the default).
    { build: async () => ({ method: "POST", path: "/v1/admin/tokens", json: { name: uniqueKey("own") } }) },
  ],
  "GET /v1/admin/tokens/{tokenId}": [
    { variant: OWN_TOKEN, build: async (_w, p) => GET(`/v1/admin/tokens/${await ownToken(p)}`)() },
    {
      variant: OTHERS_TOKEN,
      alsoNeeds: othersTokenRule,
      build: async (w) => GET(`/v1/admin/tokens/${await serviceAccountToken(w)}`)(),
    },
  ],
  // Any token may revoke itself (the table's workspace:read is all that needs); revoking any other
  // token needs token:self as well, and another member's token:admin (manage-tokens.ts revokeToken).
  "DELETE /v1/admin/tokens/{tokenId}": [
    {
      variant: OWN_TOKEN,
      alsoNeeds: (actor) => can(actor, "token:self"),
      build: async (_w, p) => ({ method: "DELETE", path: `/v1/admin/tokens/${await ownToken(p)}` }),
    },
    {
      variant: OTHERS_TOKEN,
      alsoNeeds: (actor) => can(actor, "token:self") && othersTokenRule(actor),
      build: async (w) => ({ method: "DELETE", path: `/v1/admin/tokens/${await serviceAccountToken(w)}` }),
    },
    {
      // Presented by a new token of the principal's member and scopes (the same principal), so the
      // token the other tests present stays live.
      variant: "the presenting token itself",
      build: async (_w, p) => {
        const own = await createTokenViaApi(p.memberToken, { scopes: p.apiScope });
        return { method: "DELETE", path: `/v1/admin/tokens/${own.id}`, token: own.secret };
      },
    },
  ],
  "POST /v1/admin/tokens/{tokenId}/rotations": [
    {
      variant: OWN_TOKEN,
      build: async (_w, p) => ({
        method: "POST",
        path: `/v1/admin/tokens/${await ownToken(p)}/rotations`,
        json: { overlapSeconds: 60 },
      }),
    },
    {
      variant: OTHERS_TOKEN,
      // The service account's token is full and unlimited: rotating it also needs a token at least
      // as wide (scopeWithin), which every token:admin holder of this matrix has.
      alsoNeeds: othersTokenRule,
      build: async (w) => ({
        method: "POST",
        path: `/v1/admin/tokens/${await serviceAccountToken(w)}/rotations`,
        json: { overlapSeconds: 60 },
      }),
    },
  ],

  "GET /v1/admin/apps": [{ build: GET("/v1/admin/apps") }],
  "POST /v1/admin/apps": [
    {
      build: async () => ({
        method: "POST",
        path: "/v1/admin/apps",
        json: { key: uniqueKey("app"), name: "Host", platforms: ["ios"] },
      }),
    },
  ],
  "GET /v1/admin/apps/{appId}": [{ build: async (w) => GET(`/v1/admin/apps/${w.app.key}`)() }],
  "DELETE /v1/admin/apps/{appId}": [
    // A new app of the owner's, with no release (an open one would make it 409 TARGET_IN_USE).
    { build: async (w) => ({ method: "DELETE", path: `/v1/admin/apps/${(await createApp(w.owner.token)).key}` }) },
  ],
  "DELETE /v1/admin/apps/{appId}/environments/{env}": [
    {
      // A new environment of the world's app, with no release.
      build: async (w) => {
        const name = `gone-${next()}`;
        const res = await call(`/v1/admin/apps/${w.app.key}/environments`, {
          method: "POST",
          token: w.owner.token,
          json: { name },
        });
        expect(res.status, await res.clone().text()).toBe(201);
        return { method: "DELETE", path: `/v1/admin/apps/${w.app.key}/environments/${name}` };
      },
    },
  ],
  "POST /v1/admin/apps/{appId}/environments": [
    {
      build: async (w) => ({
        method: "POST",
        path: `/v1/admin/apps/${w.app.key}/environments`,
        json: { name: `env-${next()}` },
      }),
    },
  ],
  "POST /v1/admin/apps/{appId}/environments/{env}/rebuild-delivery": [
    {
      // A rebuild writes delivery data, not relational rows (docs/architecture.md): its effect is
      // seen by devices. The fixture is a full release of A on a new environment, written straight
      // into D1 with no delivery published (the state a rebuild repairs): devices get it only once
      // the environment is rebuilt.
      build: async (w) => {
        const name = `rebuild-${next()}`;
        const res = await call(`/v1/admin/apps/${w.app.key}/environments`, {
          method: "POST",
          token: w.owner.token,
          json: { name },
        });
        expect(res.status, await res.clone().text()).toBe(201);
        await releaseOf(w, "A", "full", (await res.json<{ id: string }>()).id);
        expect((await deviceCheck(w, name)).action, "devices get the release before a rebuild").toBe("none");
        return {
          method: "POST",
          path: `/v1/admin/apps/${w.app.key}/environments/${name}/rebuild-delivery`,
          observe: () => deviceCheck(w, name),
        };
      },
    },
  ],

  "GET /v1/admin/mini-programs": [
    {
      build: GET("/v1/admin/mini-programs"),
      check: (body, p, w) => {
        const ids = (body as { items: { id: string }[] }).items.map((m) => m.id);
        expectFiltered({ a: ids.includes(w.a.id), b: ids.includes(w.b.id) }, p.actor, w);
      },
    },
  ],
  "POST /v1/admin/mini-programs": [
    {
      build: async () => {
        const key = uniqueKey("mp");
        return { method: "POST", path: "/v1/admin/mini-programs", json: { key, names: { en: key } } };
      },
    },
  ],
  "GET /v1/admin/mini-programs/{miniProgramId}": [{ build: async (w) => GET(`/v1/admin/mini-programs/${w.a.id}`)() }],
  "PATCH /v1/admin/mini-programs/{miniProgramId}": [
    {
      build: async (w) => ({
        method: "PATCH",
        path: `/v1/admin/mini-programs/${w.a.id}`,
        json: { names: { en: "Renamed" }, config: { switches: { edited: "yes" } } },
      }),
    },
  ],
  "GET /v1/admin/mini-programs/{miniProgramId}/members": [
    { build: async (w) => GET(`/v1/admin/mini-programs/${w.a.id}/members`)() },
  ],
  "PUT /v1/admin/mini-programs/{miniProgramId}/members/{memberId}": [
    {
      build: async (w) => ({
        method: "PUT",
        path: `/v1/admin/mini-programs/${w.a.id}/members/${(await targetMember(w)).memberId}`,
        json: { role: "developer" },
      }),
    },
  ],
  "DELETE /v1/admin/mini-programs/{miniProgramId}/members/{memberId}": [
    {
      build: async (w) => ({
        method: "DELETE",
        path: `/v1/admin/mini-programs/${w.a.id}/members/${(await targetMember(w, { A: "developer" })).memberId}`,
      }),
    },
  ],
  "GET /v1/admin/mini-programs/{miniProgramId}/versions": [
    { build: async (w) => GET(`/v1/admin/mini-programs/${w.a.id}/versions`)() },
  ],
  "POST /v1/admin/mini-programs/{miniProgramId}/versions": [
    {
      build: async (w) => {
        const version = uniqueVersion();
        return {
          method: "POST",
          path: `/v1/admin/mini-programs/${w.a.id}/versions?version=${version}`,
          body: makeZip({ "index.js": `console.log(${JSON.stringify(version)})`, "app.json": "{}" }),
          type: "application/zip",
        };
      },
    },
  ],
  "GET /v1/admin/mini-programs/{miniProgramId}/versions/{version}": [
    {
      build: async (w) => GET(`/v1/admin/mini-programs/${w.a.id}/versions/${(await versionOf(w)).version}`)(),
    },
  ],
  "DELETE /v1/admin/mini-programs/{miniProgramId}/versions/{version}": [
    {
      build: async (w) => ({
        method: "DELETE",
        path: `/v1/admin/mini-programs/${w.a.id}/versions/${(await versionOf(w)).version}`,
      }),
    },
  ],
  "GET /v1/admin/mini-programs/{miniProgramId}/patches": [
    { build: async (w) => GET(`/v1/admin/mini-programs/${w.a.id}/patches`)() },
  ],
  "GET /v1/admin/mini-programs/{miniProgramId}/installed-versions": [
    { build: async (w) => GET(`/v1/admin/mini-programs/${w.a.id}/installed-versions?appId=${w.app.key}&env=prod`)() },
  ],
  "POST /v1/admin/mini-programs/{miniProgramId}/patches/{patchId}/retry": [
    {
      build: async (w) => {
        const patch = await failedPatchFixture(w.workspaceId, w.a.id, await versionOf(w), await versionOf(w));
        return { method: "POST", path: `/v1/admin/mini-programs/${w.a.id}/patches/${patch}/retry` };
      },
    },
  ],
  "GET /v1/admin/mini-programs/{miniProgramId}/features": [
    {
      build: async (w) => {
        await featureOnA(w);
        return GET(`/v1/admin/mini-programs/${w.a.id}/features`)();
      },
    },
  ],
  "PUT /v1/admin/mini-programs/{miniProgramId}/features/{featureId}": [
    {
      // A feature A does not have yet: the route is idempotent, and only a change is audited.
      build: async (w) => ({
        method: "PUT",
        path: `/v1/admin/mini-programs/${w.a.id}/features/${(await featureOf(w)).id}`,
        observe: featuresOfA(w),
      }),
    },
  ],
  "DELETE /v1/admin/mini-programs/{miniProgramId}/features/{featureId}": [
    {
      // A feature A has (by name, which the route takes too): idempotent, so it must be there to change anything.
      build: async (w) => ({
        method: "DELETE",
        path: `/v1/admin/mini-programs/${w.a.id}/features/${(await featureOnA(w)).name}`,
        observe: featuresOfA(w),
      }),
    },
  ],
  "POST /v1/admin/mini-programs/{miniProgramId}/removal-requests": [
    {
      // One request may be pending at a time: the owner rejects the one an earlier case left.
      build: async (w) => {
        await noPendingRemovalOfA(w);
        return {
          method: "POST",
          path: `/v1/admin/mini-programs/${w.a.id}/removal-requests`,
          json: { reason: "No longer offered" },
          observe: () => ownerRead(w, `/v1/admin/removal-requests?miniProgramId=${w.a.id}&limit=500`),
        };
      },
    },
  ],

  "GET /v1/admin/removal-requests": [
    {
      build: async (w) => {
        await pendingRemovalOf(w, w.a.id);
        await pendingRemovalOf(w, w.b.id);
        return GET("/v1/admin/removal-requests")();
      },
      check: (body, p, w) => {
        const mps = (body as { items: { miniProgramId: string }[] }).items.map((r) => r.miniProgramId);
        expectFiltered({ a: mps.includes(w.a.id), b: mps.includes(w.b.id) }, p.actor, w);
      },
    },
  ],
  "GET /v1/admin/removal-requests/{requestId}": [
    { build: async (w) => GET(`/v1/admin/removal-requests/${await pendingRemovalOf(w, w.a.id)}`)() },
  ],
  "DELETE /v1/admin/removal-requests/{requestId}": [
    {
      build: async (w) => {
        const id = await pendingRemovalOf(w, w.a.id);
        return {
          method: "DELETE",
          path: `/v1/admin/removal-requests/${id}`,
          observe: () => ownerRead(w, `/v1/admin/removal-requests/${id}`),
        };
      },
    },
  ],
  "POST /v1/admin/removal-requests/{requestId}/decision": [
    {
      variant: "reject a pending request for A",
      build: async (w) => {
        const id = await pendingRemovalOf(w, w.a.id);
        return {
          method: "POST",
          path: `/v1/admin/removal-requests/${id}/decision`,
          json: { decision: "reject", reason: "Still used" },
          observe: () => ownerRead(w, `/v1/admin/removal-requests/${id}`),
        };
      },
    },
    {
      // Approval removes the mini program for good, so each case approves a new mini program's
      // request (the owner's), not A's: workspace:write is workspace-wide, so which one does not matter.
      variant: "approve a pending request for a new mini program",
      build: async (w) => {
        const id = await pendingRemovalOf(w, (await createMiniProgram(w.owner.token)).id);
        return {
          method: "POST",
          path: `/v1/admin/removal-requests/${id}/decision`,
          json: { decision: "approve" },
          observe: () => ownerRead(w, `/v1/admin/removal-requests/${id}`),
        };
      },
    },
  ],

  "GET /v1/admin/features": [
    {
      build: async (w) => {
        await featureOf(w);
        return GET("/v1/admin/features")();
      },
    },
  ],
  "POST /v1/admin/features": [
    {
      build: async (w) => ({
        method: "POST",
        path: "/v1/admin/features",
        json: { name: uniqueKey("feature"), jsapis: ["my.scan"] },
        observe: catalogue(w),
      }),
    },
  ],
  "GET /v1/admin/features/{featureId}": [
    { variant: "by id", build: async (w) => GET(`/v1/admin/features/${(await featureOf(w)).id}`)() },
    { variant: "by name", build: async (w) => GET(`/v1/admin/features/${(await featureOf(w)).name}`)() },
  ],
  "DELETE /v1/admin/features/{featureId}": [
    {
      // A feature no mini program has (one that one has is 409 FEATURE_IN_USE).
      variant: "by id",
      build: async (w) => ({
        method: "DELETE",
        path: `/v1/admin/features/${(await featureOf(w)).id}`,
        observe: catalogue(w),
      }),
    },
    {
      variant: "by name",
      build: async (w) => ({
        method: "DELETE",
        path: `/v1/admin/features/${(await featureOf(w)).name}`,
        observe: catalogue(w),
      }),
    },
  ],

  "GET /v1/admin/publisher-keys": [
    {
      build: async (w) => {
        await publisherKeyOf(w);
        return GET("/v1/admin/publisher-keys")();
      },
    },
  ],
  "POST /v1/admin/publisher-keys": [
    {
      // A key the workspace does not have yet (the same key twice is 409 CONFLICT).
      build: async () => ({
        method: "POST",
        path: "/v1/admin/publisher-keys",
        json: { name: uniqueKey("publisher"), publicKey: await newPublisherPublicKey() },
      }),
    },
  ],
  "GET /v1/admin/publisher-keys/{keyId}": [
    { variant: "by id", build: async (w) => GET(`/v1/admin/publisher-keys/${(await publisherKeyOf(w)).id}`)() },
    { variant: "by keyId", build: async (w) => GET(`/v1/admin/publisher-keys/${(await publisherKeyOf(w)).keyId}`)() },
  ],
  "DELETE /v1/admin/publisher-keys/{keyId}": [
    {
      // A key not revoked yet (revoking one twice is 409 CONFLICT): a new one per case.
      variant: "by id",
      build: async (w) => ({ method: "DELETE", path: `/v1/admin/publisher-keys/${(await publisherKeyOf(w)).id}` }),
    },
    {
      variant: "by keyId",
      build: async (w) => ({
        method: "DELETE",
        path: `/v1/admin/publisher-keys/${(await publisherKeyOf(w)).keyId}`,
      }),
    },
  ],

  "GET /v1/admin/releases": [
    {
      build: async (w) => {
        await releaseOf(w, "A");
        await releaseOf(w, "B");
        return GET("/v1/admin/releases")();
      },
      check: (body, p, w) => {
        const mps = (body as { items: { miniProgramId: string }[] }).items.map((r) => r.miniProgramId);
        expectFiltered({ a: mps.includes(w.a.id), b: mps.includes(w.b.id) }, p.actor, w);
      },
    },
  ],
  "POST /v1/admin/releases": [
    {
      build: async (w) => ({
        method: "POST",
        path: "/v1/admin/releases",
        json: { miniProgramId: w.a.id, version: (await versionOf(w)).version, appId: w.app.key, env: "prod" },
      }),
    },
  ],
  "GET /v1/admin/releases/{releaseId}": [
    { build: async (w) => GET(`/v1/admin/releases/${(await releaseOf(w)).id}`)() },
  ],
  "DELETE /v1/admin/releases/{releaseId}": [
    { build: async (w) => ({ method: "DELETE", path: `/v1/admin/releases/${(await releaseOf(w)).id}` }) },
  ],
  "PATCH /v1/admin/releases/{releaseId}": [
    {
      build: async (w) => ({
        method: "PATCH",
        path: `/v1/admin/releases/${(await releaseOf(w)).id}`,
        json: { config: { switches: { edited: "yes" } } },
      }),
    },
  ],
  "POST /v1/admin/releases/{releaseId}/transitions": [
    {
      // Approving a release in review is a review: release:review on its mini program. The owner
      // submitted it, so no principal is its submitter (self-approval is off in the workspace).
      variant: "approve a release another member submitted",
      permission: "release:review",
      build: async (w) => {
        const release = await releaseOf(w, "A", "in_review");
        return { method: "POST", path: `/v1/admin/releases/${release.id}/transitions`, json: { to: "approved" } };
      },
    },
    {
      // Submitting a created release for review is a release change: release:write.
      variant: "submit a created release for review",
      permission: "release:write",
      build: async (w) => {
        const release = await releaseOf(w);
        return { method: "POST", path: `/v1/admin/releases/${release.id}/transitions`, json: { to: "in_review" } };
      },
    },
  ],
  "PUT /v1/admin/releases/{releaseId}/targeting": [
    {
      build: async (w) => ({
        method: "PUT",
        path: `/v1/admin/releases/${(await releaseOf(w)).id}/targeting`,
        json: { percentage: { basisPoints: 5000 } },
      }),
    },
  ],
  "PUT /v1/admin/releases/{releaseId}/rollout": [
    {
      build: async (w) => ({
        method: "PUT",
        path: `/v1/admin/releases/${(await releaseOf(w)).id}/rollout`,
        json: { basisPoints: 100 },
      }),
    },
  ],
  "GET /v1/admin/releases/{releaseId}/features": [
    {
      build: async (w) => {
        await featureOnA(w);
        return GET(`/v1/admin/releases/${(await releaseOf(w)).id}/features`)();
      },
    },
  ],
  "GET /v1/admin/releases/{releaseId}/qr-codes": [
    { build: async (w) => GET(`/v1/admin/releases/${(await releaseOf(w)).id}/qr-codes`)() },
  ],
  "GET /v1/admin/releases/{releaseId}/stats": [
    { build: async (w) => GET(`/v1/admin/releases/${(await releaseOf(w)).id}/stats`)() },
  ],
  "GET /v1/admin/releases/{releaseId}/health": [
    { build: async (w) => GET(`/v1/admin/releases/${(await releaseOf(w)).id}/health`)() },
  ],
  "PUT /v1/admin/releases/{releaseId}/health-policy": [
    {
      build: async (w) => ({
        method: "PUT",
        path: `/v1/admin/releases/${(await releaseOf(w)).id}/health-policy`,
        json: { failureRateBasisPoints: 100 },
      }),
    },
  ],
  "DELETE /v1/admin/releases/{releaseId}/health-policy": [
    { build: async (w) => ({ method: "DELETE", path: `/v1/admin/releases/${(await releaseOf(w)).id}/health-policy` }) },
  ],
  "POST /v1/admin/releases/{releaseId}/estimate": [
    {
      read: true,
      build: async (w) => ({
        method: "POST",
        path: `/v1/admin/releases/${(await releaseOf(w)).id}/estimate`,
        json: { percentage: 500 },
      }),
    },
  ],
  "POST /v1/admin/releases/{releaseId}/qr-codes": [
    {
      build: async (w) => ({
        method: "POST",
        path: `/v1/admin/releases/${(await releaseOf(w)).id}/qr-codes`,
        json: { pagePath: "pages/cart" },
      }),
    },
  ],
  "GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}": [{ build: async (w) => GET(await qrCodeOf(w))() }],
  "DELETE /v1/admin/releases/{releaseId}/qr-codes/{codeId}": [
    { build: async (w) => ({ method: "DELETE", path: await qrCodeOf(w) }) },
  ],
  "GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}/svg": [
    { build: async (w) => GET(`${await qrCodeOf(w)}/svg`)() },
  ],
  "GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}/png": [
    { build: async (w) => GET(`${await qrCodeOf(w)}/png`)() },
  ],

  "GET /v1/admin/allowlists": [{ build: GET("/v1/admin/allowlists") }],
  "POST /v1/admin/allowlists": [
    {
      build: async () => ({
        method: "POST",
        path: "/v1/admin/allowlists",
        json: { name: uniqueKey("list"), kind: "device" },
      }),
    },
  ],
  "GET /v1/admin/allowlists/{allowlistId}": [
    { build: async (w) => GET(`/v1/admin/allowlists/${await allowlistOf(w)}`)() },
  ],
  "DELETE /v1/admin/allowlists/{allowlistId}": [
    { build: async (w) => ({ method: "DELETE", path: `/v1/admin/allowlists/${await allowlistOf(w)}` }) },
  ],
  "GET /v1/admin/allowlists/{allowlistId}/entries": [
    { build: async (w) => GET(`/v1/admin/allowlists/${await allowlistOf(w)}/entries`)() },
  ],
  "PUT /v1/admin/allowlists/{allowlistId}/entries": [
    {
      build: async (w) => ({
        method: "PUT",
        path: `/v1/admin/allowlists/${await allowlistOf(w)}/entries`,
        body: "u-1\nu-2",
        type: "text/plain",
      }),
    },
  ],
  "POST /v1/admin/allowlists/{allowlistId}/entries": [
    {
      build: async (w) => ({
        method: "POST",
        path: `/v1/admin/allowlists/${await allowlistOf(w)}/entries`,
        body: "u-3",
        type: "text/plain",
      }),
    },
  ],

  "GET /v1/admin/webhook": [
    {
      build: async (w) => {
        await webhookOf(w);
        return GET("/v1/admin/webhook")();
      },
    },
  ],
  "PUT /v1/admin/webhook": [
    {
      build: async (w) => {
        await webhookOf(w);
        return {
          method: "PUT",
          path: "/v1/admin/webhook",
          json: { url: `http://127.0.0.1:9/moved-${next()}` },
          observe: webhookState(w),
        };
      },
    },
  ],
  "DELETE /v1/admin/webhook": [
    {
      build: async (w) => {
        await webhookOf(w);
        return { method: "DELETE", path: "/v1/admin/webhook", observe: webhookState(w) };
      },
    },
  ],
  "GET /v1/admin/webhook/deliveries": [{ build: GET("/v1/admin/webhook/deliveries") }],
  "POST /v1/admin/webhook/test": [
    {
      build: async (w) => {
        await webhookOf(w);
        return { method: "POST", path: "/v1/admin/webhook/test", observe: webhookDeliveryIds(w) };
      },
    },
  ],

  "POST /v1/admin/explain": [
    {
      read: true,
      // Explaining reveals a mini program's releases and targeting: the use case refuses it for a
      // mini program the actor may not read (explain-device.ts), on top of the table's permission.
      alsoNeeds: (actor, w) => can(actor, "mini_program:read", w.a.id),
      build: async (w) => ({
        method: "POST",
        path: "/v1/admin/explain",
        json: { appId: w.app.key, env: "prod", deviceId: "device-1", miniPrograms: [{ id: w.a.id, version: null }] },
      }),
    },
  ],
  "GET /v1/admin/audit-logs": [{ build: GET("/v1/admin/audit-logs") }],
};

// ---------------------------------------------------------------------------------------------
// Expectations

/** The permission a request needs: the table's only one, or the one the request names. */
function neededPermission(route: string, request: RouteRequest): { listed: Permission[]; needed: Permission } {
  const entry = ROUTE_PERMISSIONS[route];
  if (entry === undefined) throw new Error(`${route} has no entry in ROUTE_PERMISSIONS`);
  const listed: Permission[] = typeof entry === "string" ? [entry] : [...entry];
  if (request.permission !== undefined) {
    if (!listed.includes(request.permission)) throw new Error(`${route} does not list ${request.permission}`);
    return { listed, needed: request.permission };
  }
  if (listed.length !== 1 || listed[0] === undefined) {
    throw new Error(`${route} lists several permissions: its request must say which one it needs`);
  }
  return { listed, needed: listed[0] };
}

/**
 * Allowed when the route gate lets the actor through (it may hold one of the listed permissions)
 * and it holds the needed one on the resource's mini program (A) — workspace-wide for a permission
 * that is not a mini program's — and any explicit extra rule of the request holds.
 */
function expectedAllowed(route: string, request: RouteRequest, p: Principal, w: World): boolean {
  const { listed, needed } = neededPermission(route, request);
  const gate = listed.some((permission) => mayHold(p.actor, permission));
  const onMiniProgram = MINI_PROGRAM_PERMISSIONS.includes(needed) ? w.a.id : undefined;
  return gate && can(p.actor, needed, onMiniProgram) && (request.alsoNeeds?.(p.actor, w) ?? true);
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document's admin operations

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);
const doc = await (await call("/openapi.json")).json<{ paths: Record<string, Record<string, unknown>> }>();
const OPERATIONS = Object.entries(doc.paths)
  .filter(([path]) => path === "/v1/admin" || path.startsWith("/v1/admin/"))
  .flatMap(([path, item]) =>
    Object.keys(item)
      .filter((method) => HTTP_METHODS.has(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  )
  .sort();

describe("the route → permission table", () => {
  it("covers the OpenAPI document's admin operations", () => {
    expect(OPERATIONS.length).toBeGreaterThan(30);
  });

  it("has an entry for every admin operation (default deny leaves none unlisted)", () => {
    expect(OPERATIONS.filter((op) => !(op in ROUTE_PERMISSIONS))).toEqual([]);
  });

  it("has no entry naming an operation the document lacks (stale entry)", () => {
    expect(Object.keys(ROUTE_PERMISSIONS).filter((key) => !OPERATIONS.includes(key))).toEqual([]);
  });

  it("this matrix sends no request to an operation the document lacks", () => {
    expect(Object.keys(REQUESTS).filter((key) => !OPERATIONS.includes(key))).toEqual([]);
  });
});

interface Case {
  request: RouteRequest;
  principal: PrincipalSpec;
}

describe.each(OPERATIONS)("%s", (route) => {
  const requests = REQUESTS[route];
  if (!(route in ROUTE_PERMISSIONS) || requests === undefined) {
    it("has an entry in ROUTE_PERMISSIONS and a request in this matrix", () => {
      expect(route in ROUTE_PERMISSIONS, `${route}: no entry in ROUTE_PERMISSIONS`).toBe(true);
      expect(requests, `${route}: no request in access-matrix.test.ts`).toBeDefined();
    });
    return;
  }

  let world: World;
  beforeAll(async () => {
    world = await buildWorld();
  });

  const cases = requests.flatMap((request) =>
    PRINCIPALS.map((principal): [string, Case] => [
      `${request.variant === undefined ? "" : `${request.variant}, `}as ${principal.name}`,
      { request, principal },
    ]),
  );

  it.each(cases)("%s", async (_name, { request, principal }) => {
    const w = world;
    const p = w.principals.get(principal.name);
    if (p === undefined) throw new Error(`no principal ${principal.name}`);
    const allowed = expectedAllowed(route, request, p, w);
    const r = await request.build(w, p);
    const [method = "", path = ""] = route.split(" ");
    expect(r.method).toBe(method);
    // The request goes to this operation: its path is the template with each {parameter} filled in.
    const template = new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/?#]+")}(\\?|#|$)`);
    expect(r.path).toMatch(template);

    const observed = await r.observe?.();
    const before = await fingerprint(w.workspaceId);
    const res = await call(r.path, {
      method: r.method,
      token: r.token ?? p.token,
      ...(r.type === undefined ? {} : { headers: { "content-type": r.type } }),
      ...(r.json === undefined ? {} : { json: r.json }),
      ...(r.body === undefined ? {} : { body: r.body }),
    });
    const text = await res.text();
    const requestId = res.headers.get("request-id") ?? "";
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    const written = await auditRowsOf(requestId);
    const after = await fingerprint(w.workspaceId);
    const read = request.read ?? r.method === "GET";

    if (!allowed) {
      expect(res.status, `expected 403 FORBIDDEN: ${text}`).toBe(403);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const problem = JSON.parse(text) as { code: string; requestId: string };
      expect(problem.code, text).toBe("FORBIDDEN");
      expect(problem.requestId).toBe(requestId);
      expect(written, "a denied request wrote audit rows").toEqual([]);
      expect(after, "a denied request changed the workspace's rows").toEqual(before);
      if (r.observe) expect(await r.observe(), "a denied request changed what it writes").toEqual(observed);
      return;
    }
    if (read) {
      expect(res.status, `expected 200: ${text}`).toBe(200);
      // A read writes nothing (a token's last use aside, which the fingerprint leaves out).
      expect(written, "a read wrote audit rows").toEqual([]);
      expect(after, "a read changed the workspace's rows").toEqual(before);
      request.check?.(res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text, p, w);
      return;
    }
    expect(res.status >= 200 && res.status < 300, `expected 2xx, got ${res.status}: ${text}`).toBe(true);
    // The write is visible (soft assertions: a failure reports every one that does not hold).
    // Every admin change is written together with its audit row (docs/overview.md, "Audit").
    expect.soft(written.length, `no audit row with the response's request id ${requestId}`).toBeGreaterThan(0);
    expect.soft(written.every((row) => row.workspace_id === w.workspaceId)).toBe(true);
    expect.soft(after, "an allowed write left the workspace's rows unchanged").not.toEqual(before);
    if (r.observe) {
      expect.soft(await r.observe(), "an allowed write left what it writes unchanged").not.toEqual(observed);
    } else {
      // The change itself, not only its audit row: a table besides audit_logs changed.
      const { audit_logs: _a, ...changed } = after;
      const { audit_logs: _b, ...unchanged } = before;
      expect.soft(changed, "an allowed write changed no row besides its audit row").not.toEqual(unchanged);
    }
  });
});
