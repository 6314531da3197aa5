import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { addPublisherKeyViaApi } from "../support/access-fixtures";
import { expectJson, expectProblem } from "../support/admin-factories";
import { call, uniqueKey } from "../support/workspace";
import { makeZip } from "../support/zip";

// Workspace isolation, generated from the OpenAPI document: two workspaces made through the API
// (A and B) each hold one of everything that has an id. For every admin operation and every field
// that can carry an id (every path parameter; query and JSON body fields named `…Id`, `…Ids`,
// `actor`), a request made with A's admin token that is valid for A except that this one field is
// B's id (or B's key or name, where the route takes those too) must answer 404 NOT_FOUND, never 403,
// never data, and write nothing in either workspace. A field the document has and the table below
// does not cover fails its own test, named after the operation and the field.

// ---- the document ----------------------------------------------------------------------------

interface Schema {
  $ref?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
}
interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

// Read while the file is collected, so every case below is a test of its own, named by its field.
const doc = await (await call("/openapi.json")).json<Doc>();
const METHODS = ["get", "put", "post", "delete", "patch"];

/** Every field path of a JSON schema: `a.b`, `a[].b` for items of an array, `a.*` for map values. */
function fieldsOf(schema: Schema | undefined, prefix: string, seen: ReadonlySet<string> = new Set()): string[] {
  if (schema === undefined) return [];
  if (schema.$ref !== undefined) {
    if (seen.has(schema.$ref)) return [];
    const target = doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")];
    return fieldsOf(target, prefix, new Set([...seen, schema.$ref]));
  }
  const out: string[] = [];
  for (const part of [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    out.push(...fieldsOf(part, prefix, seen));
  }
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const path = prefix === "" ? name : `${prefix}.${name}`;
    out.push(path, ...fieldsOf(sub, path, seen));
  }
  if (schema.items !== undefined) out.push(...fieldsOf(schema.items, `${prefix}[]`, seen));
  if (typeof schema.additionalProperties === "object") {
    out.push(...fieldsOf(schema.additionalProperties, `${prefix}.*`, seen));
  }
  return [...new Set(out)];
}

/** A place a value travels in a request: `path:appId`, `query:memberId`, `body:allowlists[].listId`. */
interface DocField {
  op: string;
  field: string;
  carriesId: boolean;
}

const ID_NAMES = new Set(["appId", "listId", "memberId", "actor"]);
const lastName = (path: string) =>
  path
    .split(/[.[\]]+/)
    .filter(Boolean)
    .at(-1) ?? path;
const carriesId = (where: string, name: string) =>
  where === "path" || /(?:Id|Ids)$/.test(lastName(name)) || ID_NAMES.has(lastName(name));

const operations: string[] = [];
const docFields: DocField[] = [];
for (const [path, item] of Object.entries(doc.paths)) {
  if (!path.startsWith("/v1/admin")) continue;
  for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
    const op = `${method.toUpperCase()} ${path}`;
    const operation = item[method] as Operation;
    operations.push(op);
    for (const p of operation.parameters ?? []) {
      if (p.in !== "path" && p.in !== "query") continue;
      docFields.push({ op, field: `${p.in}:${p.name}`, carriesId: carriesId(p.in, p.name) });
    }
    for (const body of fieldsOf(operation.requestBody?.content["application/json"]?.schema, "")) {
      docFields.push({ op, field: `body:${body}`, carriesId: carriesId("body", body) });
    }
  }
}

// ---- the two workspaces -----------------------------------------------------------------------

interface World {
  workspaceId: string;
  token: string;
  admin: string;
  adminToken: string;
  app: { id: string; key: string };
  envs: { prod: string };
  /** An environment name only this workspace's app has. */
  onlyEnv: string;
  mp: { id: string; key: string };
  /** A version only this workspace's mini program has (both have 1.0.0, 1.1.0 and 1.2.0). */
  onlyVersion: string;
  versionId: string;
  /** A failed incremental patch (1.0.0 → onlyVersion): the one the retry route may reopen. */
  failedPatch: string;
  /**
   * Besides 1.0.0 in full and 1.1.0 as a canary on prod (targeted at the lists): 1.2.0 on prod
   * (created, with targeting), 1.0.0 on test (in_review) and on onlyEnv (created).
   */
  created: string;
  inReview: string;
  spare: string;
  /** A created release nothing else uses: the one the delete route may remove in the fixture check. */
  deletable: string;
  /** The default test QR code of `created`, and a custom one the delete route may remove. */
  createdCode: string;
  spareCode: string;
  users: { id: string; name: string; entry: string };
  devices: { id: string; name: string; entry: string };
  /** A list no release refers to: the one the delete route may remove in the fixture check. */
  spareListId: string;
  /** A second host app, with no release: the one the app delete route may remove in the fixture check. */
  spareApp: { id: string; key: string };
  /** The id of `app`'s environment named SPARE_ENV (no release): the one the environment delete route may remove. */
  spareEnvId: string;
  /** A catalogue feature `mp` has, and one it has that the delete route may take off it. */
  feature: { id: string; name: string };
  dropFeature: { id: string; name: string };
  /** A catalogue feature no mini program has: the one the feature delete route may remove. */
  spareFeature: { id: string; name: string };
  /** A second mini program, with no removal request: the one a removal request may be asked for. */
  spareMp: { id: string; key: string };
  /** A pending removal request of `mp` (the decision route rejects it in the fixture check). */
  removal: string;
  /** A pending removal request of a third mini program: the one the withdraw route may withdraw. */
  withdrawable: string;
  /** A publisher key, and a second one the revoke route may revoke in the fixture check. */
  publisherKey: { id: string; keyId: string };
  sparePublisherKey: { id: string; keyId: string };
  /** The workspace's webhook (a URL nothing answers on) and a ping delivery of it. */
  webhook: { url: string; secret: string; delivery: string };
  /** A person with a developer role on the mini program. */
  person: string;
  /** A service account with a developer role on the mini program. */
  service: string;
  serviceToken: string;
  /** Taken by the destructive controls (DELETE) of A, so they leave the other fixtures alone. */
  leaving: string;
  spareToken: string;
  /** Every value that names something of this workspace only (for the leak check). */
  own: string[];
}

/** An environment both workspaces' apps have, with no release (the name alone is not unique). */
const SPARE_ENV = "retired";

async function makeWorld(label: string): Promise<World> {
  const res = await call("/v1/workspaces", {
    method: "POST",
    headers: { "updraft-bootstrap-secret": "test-bootstrap-secret" },
    json: {
      workspaceName: `Workspace ${label}`,
      adminName: `Admin ${label}`,
      adminEmail: `${uniqueKey(label)}@example.test`,
    },
  });
  const ws = await expectJson<{ workspaceId: string; memberId: string; tokenId: string; token: string }>(res, 201);
  const token = ws.token;
  const post = async <T>(path: string, json: unknown, status = 201, method = "POST") =>
    expectJson<T>(await call(path, { method, token, json }), status);

  // Self-approval, so the admin alone can take a release live; unsigned uploads (signatures are
  // publishing.test.ts's subject), so the fixtures stay short.
  await post("/v1/admin/workspace", { allowSelfApproval: true, requireSignedUploads: false }, 200, "PATCH");
  const onlyEnv = `only-${uniqueKey(label)}`.slice(0, 32);
  const app = await post<{ id: string; key: string; environments: { id: string; name: string }[] }>("/v1/admin/apps", {
    key: uniqueKey(`app-${label}`),
    name: `App ${label}`,
    platforms: ["ios", "android"],
    environments: ["test", "prod", onlyEnv, SPARE_ENV],
  });
  const spareApp = await post<{ id: string; key: string }>("/v1/admin/apps", {
    key: uniqueKey(`spare-app-${label}`),
    name: `Spare app ${label}`,
    platforms: ["ios"],
  });
  const mp = await post<{ id: string; key: string }>("/v1/admin/mini-programs", {
    key: uniqueKey(`prog-${label}`),
    names: { en: `Program ${label}` },
  });
  const onlyVersion = label === "a" ? "6.0.0" : "7.0.0";
  let versionId = "";
  let firstVersionId = "";
  for (const version of ["1.0.0", "1.1.0", "1.2.0", onlyVersion]) {
    const uploaded = await call(`/v1/admin/mini-programs/${mp.id}/versions?version=${version}`, {
      method: "POST",
      token,
      headers: { "content-type": "application/zip" },
      body: makeZip({ "index.js": `console.log(${JSON.stringify(`${label} ${version}`)})` }),
    });
    versionId = (await expectJson<{ id: string }>(uploaded, 201)).id;
    firstVersionId ||= versionId;
  }
  const failedPatch = `pat_${label}${uniqueKey("x").replace(/[^a-z0-9]/g, "")}`;
  await env.DB.prepare(
    "insert into patches (id, workspace_id, mini_program_id, base_version_id, target_version_id, format, status, attempts, error, created_at, updated_at) values (?, ?, ?, ?, ?, 'updraft-zstd-v1', 'failed', 4, 'Gave up after 4 attempts: a fixture', 0, 0)",
  )
    .bind(failedPatch, ws.workspaceId, mp.id, firstVersionId, versionId)
    .run();
  // Never released: the version the delete route may remove in the fixture check.
  await call(`/v1/admin/mini-programs/${mp.id}/versions?version=9.9.0`, {
    method: "POST",
    token,
    headers: { "content-type": "application/zip" },
    body: makeZip({ "index.js": `console.log(${JSON.stringify(`${label} deletable`)})` }),
  });
  const lists = { user: { id: "", name: "", entry: "" }, device: { id: "", name: "", entry: "" } };
  for (const kind of ["user", "device"] as const) {
    const name = uniqueKey(`${kind}s-${label}`);
    const list = await post<{ id: string }>("/v1/admin/allowlists", { name, kind });
    const entry = uniqueKey(`${label}-${kind}`);
    const put = await call(`/v1/admin/allowlists/${list.id}/entries`, {
      method: "PUT",
      token,
      headers: { "content-type": "text/plain" },
      body: `${entry}\n${entry}-2`,
    });
    await expectJson(put, 200);
    lists[kind] = { id: list.id, name, entry };
  }
  const release = (version: string, envName: string) =>
    post<{ id: string }>("/v1/admin/releases", { miniProgramId: mp.key, version, appId: app.key, env: envName });
  const move = (id: string, ...statuses: string[]) =>
    statuses.reduce<Promise<unknown>>(
      (done, to) => done.then(() => post(`/v1/admin/releases/${id}/transitions`, { to }, 200)),
      Promise.resolve(),
    );
  // Live on prod: 1.0.0 in full, 1.1.0 as a canary for the user list, minus the device list.
  await move((await release("1.0.0", "prod")).id, "in_review", "approved", "full");
  const canary = (await release("1.1.0", "prod")).id;
  const targeting = {
    allowlists: [{ kind: "user", listId: lists.user.id }],
    denylists: [{ kind: "device", listId: lists.device.id }],
  };
  await post(`/v1/admin/releases/${canary}/targeting`, targeting, 200, "PUT");
  await move(canary, "in_review", "approved", "canary");
  const created = (await release("1.2.0", "prod")).id;
  await post(`/v1/admin/releases/${created}/targeting`, targeting, 200, "PUT");
  const inReview = (await release("1.0.0", "test")).id;
  await move(inReview, "in_review");
  const spare = (await release("1.0.0", onlyEnv)).id;
  const deletable = (await release("1.2.0", onlyEnv)).id;
  const codes = await expectJson<{ items: { id: string }[] }>(
    await call(`/v1/admin/releases/${created}/qr-codes`, { token }),
    200,
  );
  const createdCode = codes.items[0]?.id ?? "";
  const spareCode = (await post<{ id: string }>(`/v1/admin/releases/${created}/qr-codes`, { pagePath: "pages/a" })).id;

  const person = await post<{ id: string }>("/v1/admin/members", {
    kind: "person",
    name: `Person ${label}`,
    email: `${uniqueKey(label)}@example.test`,
    role: "developer",
  });
  await post(`/v1/admin/mini-programs/${mp.id}/members/${person.id}`, { role: "developer" }, 200, "PUT");
  const leaving = await post<{ id: string }>("/v1/admin/members", {
    kind: "person",
    name: `Leaving ${label}`,
    handle: uniqueKey(`leaving-${label}`),
    role: "reviewer",
  });
  const service = await post<{ id: string }>("/v1/admin/members", {
    kind: "service",
    name: `CI ${label}`,
    handle: uniqueKey(`ci-${label}`),
    role: "developer",
    miniProgramRoles: [{ miniProgramId: mp.id, role: "developer" }],
  });
  const serviceToken = await post<{ id: string; secret: string }>("/v1/admin/tokens", {
    name: "ci",
    memberId: service.id,
  });
  const spareToken = await post<{ id: string; secret: string }>("/v1/admin/tokens", {
    name: "spare",
    memberId: service.id,
  });
  // The catalogue: names are unique to the workspace, so B's name never names one of A's.
  const feature = async (prefix: string) => {
    const name = uniqueKey(`${prefix}-${label}`);
    const made = await post<{ id: string }>("/v1/admin/features", { name, jsapis: ["my.getLocation"] });
    return { id: made.id, name };
  };
  const kept = await feature("feature");
  const dropFeature = await feature("drop");
  const spareFeature = await feature("spare-feature");
  for (const f of [kept, dropFeature]) {
    await post(`/v1/admin/mini-programs/${mp.id}/features/${f.id}`, undefined, 200, "PUT");
  }
  const spareMp = await post<{ id: string; key: string }>("/v1/admin/mini-programs", {
    key: uniqueKey(`spare-prog-${label}`),
    names: { en: `Spare program ${label}` },
  });
  const removal = await post<{ id: string }>(`/v1/admin/mini-programs/${mp.id}/removal-requests`, {
    reason: "Probe fixture",
  });
  const third = await post<{ id: string }>("/v1/admin/mini-programs", {
    key: uniqueKey(`third-prog-${label}`),
    names: { en: `Third program ${label}` },
  });
  const withdrawable = await post<{ id: string }>(`/v1/admin/mini-programs/${third.id}/removal-requests`, {
    reason: "Probe fixture to withdraw",
  });
  // Each its own key: keyIds are derived from the key, so B's never name one of A's.
  const publisherKey = await addPublisherKeyViaApi(token, `Publisher ${label}`);
  const sparePublisherKey = await addPublisherKeyViaApi(token, `Spare publisher ${label}`);
  const hook = await post<{ url: string; secret: string }>(
    "/v1/admin/webhook",
    { url: `http://127.0.0.1:9/${uniqueKey(`hook-${label}`)}` },
    201,
    "PUT",
  );
  const ping = await post<{ id: string }>("/v1/admin/webhook/test", undefined, 202);
  const prod = app.environments.find((e) => e.name === "prod")?.id ?? "";
  const spareEnvId = app.environments.find((e) => e.name === SPARE_ENV)?.id ?? "";
  return {
    workspaceId: ws.workspaceId,
    token,
    admin: ws.memberId,
    adminToken: ws.tokenId,
    app: { id: app.id, key: app.key },
    envs: { prod },
    onlyEnv,
    mp: { id: mp.id, key: mp.key },
    onlyVersion,
    versionId,
    failedPatch,
    created,
    inReview,
    spare,
    deletable,
    createdCode,
    spareCode,
    users: lists.user,
    spareListId: (
      await post<{ id: string }>("/v1/admin/allowlists", { name: uniqueKey(`spare-${label}`), kind: "user" })
    ).id,
    devices: lists.device,
    spareApp: { id: spareApp.id, key: spareApp.key },
    spareEnvId,
    feature: kept,
    dropFeature,
    spareFeature,
    spareMp: { id: spareMp.id, key: spareMp.key },
    removal: removal.id,
    withdrawable: withdrawable.id,
    publisherKey: { id: publisherKey.id, keyId: publisherKey.keyId },
    sparePublisherKey: { id: sparePublisherKey.id, keyId: sparePublisherKey.keyId },
    webhook: { url: hook.url, secret: hook.secret, delivery: ping.id },
    person: person.id,
    service: service.id,
    serviceToken: serviceToken.id,
    leaving: leaving.id,
    spareToken: spareToken.id,
    own: [
      ws.workspaceId,
      ws.memberId,
      ws.tokenId,
      token,
      app.id,
      app.key,
      prod,
      onlyEnv,
      mp.id,
      mp.key,
      versionId,
      failedPatch,
      canary,
      created,
      inReview,
      spare,
      createdCode,
      spareCode,
      lists.user.id,
      lists.user.name,
      lists.user.entry,
      lists.device.id,
      lists.device.name,
      lists.device.entry,
      person.id,
      leaving.id,
      service.id,
      serviceToken.id,
      serviceToken.secret,
      spareToken.id,
      spareToken.secret,
      spareApp.id,
      spareApp.key,
      spareEnvId,
      kept.id,
      kept.name,
      dropFeature.id,
      dropFeature.name,
      spareFeature.id,
      spareFeature.name,
      spareMp.id,
      spareMp.key,
      removal.id,
      withdrawable.id,
      third.id,
      publisherKey.id,
      publisherKey.keyId,
      publisherKey.publicKey,
      sparePublisherKey.id,
      sparePublisherKey.keyId,
      sparePublisherKey.publicKey,
      hook.url,
      hook.secret,
      ping.id,
    ],
  };
}

// ---- the table --------------------------------------------------------------------------------

/** A request, built from one workspace's values. */
interface Probe {
  method: string;
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  text?: string;
  zip?: Uint8Array;
}

/** One workspace's value for a field. */
type Of = (w: World) => string;

/**
 * How one field is covered:
 * - `foreign`: B's values for it (labels are shown in test names); each must answer 404 NOT_FOUND.
 * - `opaque`: a value that is no reference to a workspace's resource (device and user ids of the
 *   host app's users, a mini program a device reports): B's values must get exactly the answer a
 *   value no workspace knows gets.
 * - `notSent`: not an Updraft id and not worth a request; the reason says why.
 * `own` is A's value: the request with A's own values everywhere is the valid one the probes vary.
 */
type FieldEntry =
  | { own: Of; foreign: Record<string, Of> }
  | { own: Of; opaque: string; foreign: Record<string, Of> }
  | { notSent: string };

interface OpEntry {
  /** The request A would send; `v(field)` is the value of that field in this probe. */
  build: (a: World, v: (field: string) => string) => Probe;
  fields: Record<string, FieldEntry>;
}

let counter = 0;
const fresh = (prefix: string) => `${prefix}${++counter}-${Math.floor(Math.random() * 1e9).toString(36)}`;

const member = (self: Of) => ({
  own: self,
  foreign: {
    "admin member id": (b: World) => b.admin,
    "person id": (b: World) => b.person,
    "service account id": (b: World) => b.service,
  },
});
const app = {
  own: (a: World) => a.app.id,
  foreign: { "app id": (b: World) => b.app.id, "app key": (b: World) => b.app.key },
};
const mp = {
  own: (a: World) => a.mp.id,
  foreign: { "mini program id": (b: World) => b.mp.id, "mini program key": (b: World) => b.mp.key },
};
const mpByKey = { ...mp, own: (a: World) => a.mp.key };
const release = (self: Of) => ({
  own: self,
  foreign: {
    "created release id": (b: World) => b.created,
    "in_review release id": (b: World) => b.inReview,
  },
});
const qrCode = (self: Of) => ({ own: self, foreign: { "QR code id": (b: World) => b.createdCode } });
const list = {
  own: (a: World) => a.users.id,
  foreign: { "allowlist id": (b: World) => b.users.id, "allowlist name": (b: World) => b.users.name },
};
const token = (self: Of) => ({
  own: self,
  foreign: {
    "admin token id": (b: World) => b.adminToken,
    "service token id": (b: World) => b.serviceToken,
  },
});
const feature = (self: Of) => ({
  own: self,
  foreign: {
    "feature id": (b: World) => b.feature.id,
    "feature name": (b: World) => b.feature.name,
    "spare feature id": (b: World) => b.spareFeature.id,
    "spare feature name": (b: World) => b.spareFeature.name,
  },
});
const publisherKey = (self: Of) => ({
  own: self,
  foreign: {
    "publisher key id": (b: World) => b.publisherKey.id,
    "publisher key keyId": (b: World) => b.publisherKey.keyId,
    "spare publisher key id": (b: World) => b.sparePublisherKey.id,
    "spare publisher key keyId": (b: World) => b.sparePublisherKey.keyId,
  },
});
const removal = (self: Of) => ({ own: self, foreign: { "removal request id": (b: World) => b.removal } });
const PAYMENT = { notSent: "A payment provider's id stored verbatim in the configuration, not an Updraft resource." };

const TABLE: Record<string, OpEntry> = {
  "GET /v1/admin/members/{memberId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/members/${v("path:memberId")}` }),
    fields: { "path:memberId": member((a) => a.person) },
  },
  "PATCH /v1/admin/members/{memberId}": {
    build: (_a, v) => ({ method: "PATCH", path: `/v1/admin/members/${v("path:memberId")}`, json: { name: "Renamed" } }),
    fields: { "path:memberId": member((a) => a.person) },
  },
  "DELETE /v1/admin/members/{memberId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/members/${v("path:memberId")}` }),
    fields: { "path:memberId": member((a) => a.leaving) },
  },
  "POST /v1/admin/members/{memberId}/invites": {
    build: (_a, v) => ({ method: "POST", path: `/v1/admin/members/${v("path:memberId")}/invites` }),
    fields: { "path:memberId": member((a) => a.person) },
  },
  "POST /v1/admin/members": {
    build: (_a, v) => ({
      method: "POST",
      path: "/v1/admin/members",
      json: {
        kind: "person",
        name: "New person",
        email: `${fresh("new-")}@example.test`,
        role: "developer",
        miniProgramRoles: [{ miniProgramId: v("body:miniProgramRoles[].miniProgramId"), role: "developer" }],
      },
    }),
    fields: { "body:miniProgramRoles[].miniProgramId": mp },
  },

  "POST /v1/admin/tokens": {
    build: (_a, v) => ({
      method: "POST",
      path: "/v1/admin/tokens",
      json: {
        name: "probe",
        memberId: v("body:memberId"),
        scopes: { access: "read", miniProgramIds: [v("body:scopes.miniProgramIds")] },
      },
    }),
    fields: {
      "body:memberId": member((a) => a.service),
      "body:scopes.miniProgramIds": mp,
    },
  },
  "GET /v1/admin/tokens": {
    build: (_a, v) => ({ method: "GET", path: "/v1/admin/tokens", query: { memberId: v("query:memberId") } }),
    fields: { "query:memberId": member((a) => a.service) },
  },
  "GET /v1/admin/tokens/{tokenId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/tokens/${v("path:tokenId")}` }),
    fields: { "path:tokenId": token((a) => a.serviceToken) },
  },
  "DELETE /v1/admin/tokens/{tokenId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/tokens/${v("path:tokenId")}` }),
    fields: { "path:tokenId": token((a) => a.spareToken) },
  },
  "POST /v1/admin/tokens/{tokenId}/rotations": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/tokens/${v("path:tokenId")}/rotations`,
      json: { overlapSeconds: 60 },
    }),
    fields: { "path:tokenId": token((a) => a.serviceToken) },
  },

  "GET /v1/admin/apps/{appId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/apps/${v("path:appId")}` }),
    fields: { "path:appId": app },
  },
  "DELETE /v1/admin/apps/{appId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/apps/${v("path:appId")}` }),
    fields: {
      "path:appId": {
        own: (a) => a.spareApp.id,
        // B's app has open releases (409 TARGET_IN_USE if it were found); its spare app has none.
        foreign: { ...app.foreign, "spare app id": (b) => b.spareApp.id, "spare app key": (b) => b.spareApp.key },
      },
    },
  },
  "DELETE /v1/admin/apps/{appId}/environments/{env}": {
    build: (_a, v) => ({
      method: "DELETE",
      path: `/v1/admin/apps/${v("path:appId")}/environments/${v("path:env")}`,
    }),
    fields: {
      // B's app has an environment named SPARE_ENV too, with no release: found, it would be deleted.
      "path:appId": app,
      "path:env": { own: () => SPARE_ENV, foreign: { "environment name": (b) => b.onlyEnv } },
    },
  },
  "POST /v1/admin/apps/{appId}/environments": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/apps/${v("path:appId")}/environments`,
      json: { name: fresh("env-") },
    }),
    fields: { "path:appId": app },
  },
  "POST /v1/admin/apps/{appId}/environments/{env}/rebuild-delivery": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/apps/${v("path:appId")}/environments/${v("path:env")}/rebuild-delivery`,
    }),
    fields: {
      "path:appId": app,
      "path:env": { own: () => "prod", foreign: { "environment name": (b) => b.onlyEnv } },
    },
  },

  "POST /v1/admin/mini-programs": {
    build: () => ({ method: "POST", path: "/v1/admin/mini-programs", json: { key: fresh("p-"), names: { en: "P" } } }),
    fields: { "body:config.payment.clientId": PAYMENT, "body:config.payment.merchantId": PAYMENT },
  },
  "GET /v1/admin/mini-programs/{miniProgramId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/mini-programs/${v("path:miniProgramId")}` }),
    fields: { "path:miniProgramId": mp },
  },
  "PATCH /v1/admin/mini-programs/{miniProgramId}": {
    build: (_a, v) => ({
      method: "PATCH",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}`,
      json: { names: { en: "Renamed" } },
    }),
    fields: {
      "path:miniProgramId": mp,
      "body:config.payment.clientId": PAYMENT,
      "body:config.payment.merchantId": PAYMENT,
    },
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/members": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/members` }),
    fields: { "path:miniProgramId": mp },
  },
  "PUT /v1/admin/mini-programs/{miniProgramId}/members/{memberId}": {
    build: (_a, v) => ({
      method: "PUT",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/members/${v("path:memberId")}`,
      json: { role: "developer" },
    }),
    fields: { "path:miniProgramId": mp, "path:memberId": member((a) => a.person) },
  },
  "DELETE /v1/admin/mini-programs/{miniProgramId}/members/{memberId}": {
    build: (_a, v) => ({
      method: "DELETE",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/members/${v("path:memberId")}`,
    }),
    fields: { "path:miniProgramId": mp, "path:memberId": member((a) => a.person) },
  },
  "POST /v1/admin/mini-programs/{miniProgramId}/versions": {
    build: (_a, v) => {
      const version = `2.0.${++counter}`;
      return {
        method: "POST",
        path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/versions`,
        query: { version },
        zip: makeZip({ "index.js": `console.log("probe ${version}")` }),
      };
    },
    fields: { "path:miniProgramId": mp },
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/versions": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/versions` }),
    fields: { "path:miniProgramId": mp },
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/versions/{version}": {
    build: (_a, v) => ({
      method: "GET",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/versions/${v("path:version")}`,
    }),
    fields: {
      "path:miniProgramId": mp,
      // Both mini programs have 1.0.0: with B's mini program the version exists there too.
      "path:version": { own: () => "1.0.0", foreign: { "version of B's only": (b) => b.onlyVersion } },
    },
  },

  "DELETE /v1/admin/mini-programs/{miniProgramId}/versions/{version}": {
    build: (_a, v) => ({
      method: "DELETE",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/versions/${v("path:version")}`,
    }),
    fields: {
      "path:miniProgramId": mp,
      "path:version": { own: () => "9.9.0", foreign: { "version of B's only": (b) => b.onlyVersion } },
    },
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/installed-versions": {
    build: (_a, v) => ({
      method: "GET",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/installed-versions`,
      query: { appId: v("query:appId"), env: "prod" },
    }),
    fields: { "path:miniProgramId": mp, "query:appId": app },
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/patches": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/patches` }),
    fields: { "path:miniProgramId": mp },
  },
  "POST /v1/admin/mini-programs/{miniProgramId}/patches/{patchId}/retry": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/patches/${v("path:patchId")}/retry`,
    }),
    fields: {
      "path:miniProgramId": mp,
      "path:patchId": { own: (a) => a.failedPatch, foreign: { "patch of B": (b) => b.failedPatch } },
    },
  },
  "GET /v1/admin/mini-programs/{miniProgramId}/features": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/features` }),
    fields: { "path:miniProgramId": mp },
  },
  "PUT /v1/admin/mini-programs/{miniProgramId}/features/{featureId}": {
    // A's mini program has the feature already: the route is idempotent, so A's own request writes nothing.
    build: (_a, v) => ({
      method: "PUT",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/features/${v("path:featureId")}`,
    }),
    fields: { "path:miniProgramId": mp, "path:featureId": feature((a) => a.feature.id) },
  },
  "DELETE /v1/admin/mini-programs/{miniProgramId}/features/{featureId}": {
    build: (_a, v) => ({
      method: "DELETE",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/features/${v("path:featureId")}`,
    }),
    fields: {
      "path:miniProgramId": mp,
      "path:featureId": {
        own: (a) => a.dropFeature.id,
        foreign: {
          ...feature((a) => a.dropFeature.id).foreign,
          "dropped feature id": (b) => b.dropFeature.id,
          "dropped feature name": (b) => b.dropFeature.name,
        },
      },
    },
  },
  "POST /v1/admin/mini-programs/{miniProgramId}/removal-requests": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/mini-programs/${v("path:miniProgramId")}/removal-requests`,
      json: { reason: "Probe" },
    }),
    fields: {
      "path:miniProgramId": {
        own: (a) => a.spareMp.id,
        foreign: {
          ...mp.foreign,
          "spare mini program id": (b) => b.spareMp.id,
          "spare mini program key": (b) => b.spareMp.key,
        },
      },
    },
  },

  "GET /v1/admin/removal-requests": {
    build: (_a, v) => ({
      method: "GET",
      path: "/v1/admin/removal-requests",
      query: { miniProgramId: v("query:miniProgramId") },
    }),
    fields: { "query:miniProgramId": mp },
  },
  "GET /v1/admin/removal-requests/{requestId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/removal-requests/${v("path:requestId")}` }),
    fields: { "path:requestId": removal((a) => a.removal) },
  },
  "DELETE /v1/admin/removal-requests/{requestId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/removal-requests/${v("path:requestId")}` }),
    fields: { "path:requestId": removal((a) => a.withdrawable) },
  },
  "POST /v1/admin/removal-requests/{requestId}/decision": {
    // Reject, not approve: approving would remove A's mini program, which the other fixture checks use.
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/removal-requests/${v("path:requestId")}/decision`,
      json: { decision: "reject", reason: "Probe" },
    }),
    fields: { "path:requestId": removal((a) => a.removal) },
  },

  "GET /v1/admin/features/{featureId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/features/${v("path:featureId")}` }),
    fields: { "path:featureId": feature((a) => a.feature.id) },
  },
  "DELETE /v1/admin/features/{featureId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/features/${v("path:featureId")}` }),
    fields: { "path:featureId": feature((a) => a.spareFeature.id) },
  },

  "GET /v1/admin/publisher-keys/{keyId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/publisher-keys/${v("path:keyId")}` }),
    fields: { "path:keyId": publisherKey((a) => a.publisherKey.keyId) },
  },
  "DELETE /v1/admin/publisher-keys/{keyId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/publisher-keys/${v("path:keyId")}` }),
    fields: { "path:keyId": publisherKey((a) => a.sparePublisherKey.id) },
  },

  "POST /v1/admin/releases": {
    build: (_a, v) => ({
      method: "POST",
      path: "/v1/admin/releases",
      json: { miniProgramId: v("body:miniProgramId"), version: "1.1.0", appId: v("body:appId"), env: "test" },
    }),
    fields: {
      "body:miniProgramId": mp,
      "body:appId": app,
      "body:config.payment.clientId": PAYMENT,
      "body:config.payment.merchantId": PAYMENT,
    },
  },
  "GET /v1/admin/releases": {
    build: (_a, v) => ({
      method: "GET",
      path: "/v1/admin/releases",
      query: { appId: v("query:appId"), miniProgramId: v("query:miniProgramId") },
    }),
    fields: { "query:appId": app, "query:miniProgramId": mp },
  },
  "GET /v1/admin/releases/{releaseId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/releases/${v("path:releaseId")}` }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "DELETE /v1/admin/releases/{releaseId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/releases/${v("path:releaseId")}` }),
    fields: { "path:releaseId": release((a) => a.deletable) },
  },
  "PATCH /v1/admin/releases/{releaseId}": {
    build: (_a, v) => ({
      method: "PATCH",
      path: `/v1/admin/releases/${v("path:releaseId")}`,
      json: { config: { switches: { edited: "yes" } } },
    }),
    fields: {
      "path:releaseId": release((a) => a.created),
      "body:config.payment.clientId": PAYMENT,
      "body:config.payment.merchantId": PAYMENT,
    },
  },
  "POST /v1/admin/releases/{releaseId}/transitions": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/releases/${v("path:releaseId")}/transitions`,
      json: { to: "cancelled" },
    }),
    fields: { "path:releaseId": release((a) => a.spare) },
  },
  "PUT /v1/admin/releases/{releaseId}/targeting": {
    build: (_a, v) => ({
      method: "PUT",
      path: `/v1/admin/releases/${v("path:releaseId")}/targeting`,
      json: {
        allowlists: [{ kind: "user", listId: v("body:allowlists[].listId") }],
        denylists: [{ kind: "device", listId: v("body:denylists[].listId") }],
        percentage: { basisPoints: 5000 },
      },
    }),
    fields: {
      "path:releaseId": release((a) => a.created),
      "body:allowlists[].listId": list,
      "body:denylists[].listId": {
        own: (a) => a.devices.id,
        foreign: { "allowlist id": (b) => b.devices.id, "allowlist name": (b) => b.devices.name },
      },
    },
  },
  "PUT /v1/admin/releases/{releaseId}/rollout": {
    build: (_a, v) => ({
      method: "PUT",
      path: `/v1/admin/releases/${v("path:releaseId")}/rollout`,
      json: { basisPoints: 2500 },
    }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "GET /v1/admin/releases/{releaseId}/features": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/releases/${v("path:releaseId")}/features` }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "GET /v1/admin/releases/{releaseId}/health": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/releases/${v("path:releaseId")}/health` }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "PUT /v1/admin/releases/{releaseId}/health-policy": {
    build: (_a, v) => ({
      method: "PUT",
      path: `/v1/admin/releases/${v("path:releaseId")}/health-policy`,
      json: { failureRateBasisPoints: 100 },
    }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "DELETE /v1/admin/releases/{releaseId}/health-policy": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/releases/${v("path:releaseId")}/health-policy` }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "POST /v1/admin/releases/{releaseId}/estimate": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/releases/${v("path:releaseId")}/estimate`,
      json: { percentage: 500 },
    }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "GET /v1/admin/releases/{releaseId}/stats": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/releases/${v("path:releaseId")}/stats` }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "GET /v1/admin/releases/{releaseId}/qr-codes": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/releases/${v("path:releaseId")}/qr-codes` }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  "POST /v1/admin/releases/{releaseId}/qr-codes": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/releases/${v("path:releaseId")}/qr-codes`,
      json: { pagePath: "pages/b" },
    }),
    fields: { "path:releaseId": release((a) => a.created) },
  },
  ...Object.fromEntries(
    ["", "/svg", "/png"].map((tail) => [
      `GET /v1/admin/releases/{releaseId}/qr-codes/{codeId}${tail}`,
      {
        build: (_a: World, v: (field: string) => string) => ({
          method: "GET",
          path: `/v1/admin/releases/${v("path:releaseId")}/qr-codes/${v("path:codeId")}${tail}`,
        }),
        fields: { "path:releaseId": release((a) => a.created), "path:codeId": qrCode((a) => a.createdCode) },
      },
    ]),
  ),
  "DELETE /v1/admin/releases/{releaseId}/qr-codes/{codeId}": {
    build: (_a, v) => ({
      method: "DELETE",
      path: `/v1/admin/releases/${v("path:releaseId")}/qr-codes/${v("path:codeId")}`,
    }),
    fields: { "path:releaseId": release((a) => a.created), "path:codeId": qrCode((a) => a.spareCode) },
  },

  "GET /v1/admin/allowlists/{allowlistId}": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/allowlists/${v("path:allowlistId")}` }),
    fields: { "path:allowlistId": list },
  },
  "DELETE /v1/admin/allowlists/{allowlistId}": {
    build: (_a, v) => ({ method: "DELETE", path: `/v1/admin/allowlists/${v("path:allowlistId")}` }),
    fields: { "path:allowlistId": { ...list, own: (a: World) => a.spareListId } },
  },
  "GET /v1/admin/allowlists/{allowlistId}/entries": {
    build: (_a, v) => ({ method: "GET", path: `/v1/admin/allowlists/${v("path:allowlistId")}/entries` }),
    fields: { "path:allowlistId": list },
  },
  "PUT /v1/admin/allowlists/{allowlistId}/entries": {
    build: (a, v) => ({
      method: "PUT",
      path: `/v1/admin/allowlists/${v("path:allowlistId")}/entries`,
      text: `${a.users.entry}\n${a.users.entry}-2\nprobe-user`,
    }),
    fields: { "path:allowlistId": list },
  },
  "POST /v1/admin/allowlists/{allowlistId}/entries": {
    build: (_a, v) => ({
      method: "POST",
      path: `/v1/admin/allowlists/${v("path:allowlistId")}/entries`,
      text: fresh("probe-user-"),
    }),
    fields: { "path:allowlistId": list },
  },

  "POST /v1/admin/explain": {
    build: (_a, v) => ({
      method: "POST",
      path: "/v1/admin/explain",
      json: {
        appId: v("body:appId"),
        env: "prod",
        deviceId: v("body:deviceId"),
        userId: v("body:userId"),
        miniPrograms: [{ id: v("body:miniPrograms[].id"), version: "1.0.0" }],
      },
    }),
    fields: {
      "body:appId": { own: (a) => a.app.key, foreign: app.foreign },
      "body:deviceId": {
        // A device on no list of A's, so that the canary's allowlist decides (the denylist comes first).
        own: () => "device-of-a",
        opaque: "a device id of the host app's users",
        foreign: { "allowlisted device id": (b) => b.devices.entry },
      },
      "body:userId": {
        own: (a) => a.users.entry,
        opaque: "a user id of the host app's users",
        foreign: { "allowlisted user id": (b) => b.users.entry },
      },
      // Not named like an id, so not required by the rule; covered anyway. A device may report a mini
      // program the app does not deliver: the answer for B's must be the one for a mini program
      // nobody has (no 404, which would tell B's ids from unknown ones, and no B release).
      "body:miniPrograms[].id": {
        own: (a) => a.mp.key,
        opaque: "a mini program a device reports, answered like one the app does not deliver",
        foreign: mpByKey.foreign,
      },
    },
  },
  "GET /v1/admin/audit-logs": {
    build: (_a, v) => ({
      method: "GET",
      path: "/v1/admin/audit-logs",
      query: { actor: v("query:actor"), resourceId: v("query:resourceId") },
    }),
    fields: {
      "query:actor": member((a) => a.admin),
      "query:resourceId": {
        own: (a) => a.mp.id,
        foreign: {
          "workspace id": (b) => b.workspaceId,
          "app id": (b) => b.app.id,
          "environment id": (b) => b.envs.prod,
          "mini program id": (b) => b.mp.id,
          "version id": (b) => b.versionId,
          "release id": (b) => b.created,
          "allowlist id": (b) => b.users.id,
          "member id": (b) => b.person,
          "token id": (b) => b.serviceToken,
        },
      },
    },
  },
};

// ---- running a probe --------------------------------------------------------------------------

function send(token: string, p: Probe): Promise<Response> {
  const qs = p.query ? `?${new URLSearchParams(p.query)}` : "";
  const headers: Record<string, string> = {};
  let body: BodyInit | undefined;
  if (p.text !== undefined) {
    headers["content-type"] = "text/plain";
    body = p.text;
  } else if (p.zip !== undefined) {
    headers["content-type"] = "application/zip";
    body = p.zip;
  }
  return call(`${p.path}${qs}`, {
    method: p.method,
    token,
    headers,
    ...(p.json !== undefined ? { json: p.json } : {}),
    ...(body !== undefined ? { body } : {}),
  });
}

/** The probe of `op` with every field A's own except `field`, which is `value`. */
function probeOf(op: string, a: World, field: string | null, value: string): Probe {
  const entry = TABLE[op] as OpEntry;
  return entry.build(a, (name) => {
    if (name === field) return value;
    const f = entry.fields[name];
    if (f === undefined || "notSent" in f) throw new Error(`${op}: the builder uses ${name}, which has no own value`);
    return f.own(a);
  });
}

const auditRows = async (requestId: string | null) =>
  (
    await env.DB.prepare("select count(*) as n from audit_logs where request_id = ?")
      .bind(requestId)
      .first<{ n: number }>()
  )?.n ?? 0;

/**
 * What a workspace holds, as one comparable record: rows and their versions, so a write anywhere in
 * it (a row added, changed, revoked, removed) shows. Tokens without their last use (A's admin token
 * is used by every probe).
 */
async function fingerprint(workspaceId: string) {
  return env.DB.prepare(
    `select
      (select count(*) from audit_logs where workspace_id = ?1) as audit,
      (select row_version || ':' || name || ':' || allow_self_approval from workspaces where id = ?1) as workspace,
      (select group_concat(x) from (select id || ':' || row_version || ':' || role || ':' || coalesce(removed_at, '-') as x
         from members where workspace_id = ?1 order by id)) as members,
      (select count(*) || ':' || count(used_at) from member_invites where workspace_id = ?1) as invites,
      (select group_concat(x) from (select id || ':' || coalesce(expires_at, '-') || ':' || coalesce(revoked_at, '-') as x
         from api_tokens where workspace_id = ?1 order by id)) as tokens,
      (select group_concat(x) from (select id || ':' || coalesce(deleted_at, '-') as x
         from apps where workspace_id = ?1 order by id)) as apps,
      (select group_concat(x) from (select e.id || ':' || e.snapshot_version || ':' || coalesce(e.deleted_at, '-') as x
         from environments e join apps a on a.id = e.app_id where a.workspace_id = ?1 order by e.id)) as environments,
      (select group_concat(x) from (select id || ':' || row_version || ':' || coalesce(removed_at, '-') as x
         from mini_programs where workspace_id = ?1 order by id)) as mini_programs,
      (select group_concat(x) from (select m.mini_program_id || ':' || m.member_id || ':' || m.role as x
         from mini_program_members m join mini_programs p on p.id = m.mini_program_id where p.workspace_id = ?1
         order by m.mini_program_id, m.member_id)) as roles,
      (select count(*) from versions v join mini_programs p on p.id = v.mini_program_id where p.workspace_id = ?1) as versions,
      (select group_concat(x) from (select r.id || ':' || r.row_version || ':' || r.status as x from releases r
         join mini_programs p on p.id = r.mini_program_id where p.workspace_id = ?1 order by r.id)) as releases,
      (select group_concat(x) from (select id || ':' || row_version || ':' || content_version as x
         from allowlists where workspace_id = ?1 order by id)) as allowlists,
      (select group_concat(x) from (select id || ':' || name || ':' || updated_at as x
         from features where workspace_id = ?1 order by id)) as features,
      (select group_concat(x) from (select f.mini_program_id || ':' || f.feature_id as x from mini_program_features f
         join mini_programs p on p.id = f.mini_program_id where p.workspace_id = ?1
         order by f.mini_program_id, f.feature_id)) as mini_program_features,
      (select group_concat(x) from (select id || ':' || status as x
         from removal_requests where workspace_id = ?1 order by id)) as removal_requests,
      (select group_concat(x) from (select id as x from qr_codes where workspace_id = ?1 order by id)) as qr_codes,
      (select group_concat(x) from (select id || ':' || coalesce(revoked_at, '-') as x
         from publisher_keys where workspace_id = ?1 order by id)) as publisher_keys`,
  )
    .bind(workspaceId)
    .first<Record<string, unknown>>();
}

/** An explain answer with the varied value and the evaluation time taken out, to compare two answers. */
const comparable = (text: string, value: string) =>
  JSON.stringify({ ...JSON.parse(text.replaceAll(value, "<value>")), evaluatedAt: 0 });

// ---- the cases --------------------------------------------------------------------------------

interface Case {
  name: string;
  op: string;
  field: string;
  label: string;
  pick: Of;
  opaque: boolean;
}

const cases: Case[] = docFields.flatMap(({ op, field }) => {
  const entry = TABLE[op]?.fields[field];
  if (entry === undefined || "notSent" in entry) return [];
  const opaque = "opaque" in entry;
  return Object.entries(entry.foreign).map(([label, pick]) => ({
    name: `${op} ${field} = B's ${label} → ${opaque ? "the answer for an unknown value" : "404"}`,
    op,
    field,
    label,
    pick,
    opaque,
  }));
});

let A: World;
let B: World;
let before: { a: unknown; b: unknown };

beforeAll(async () => {
  [A, B] = await Promise.all([makeWorld("a"), makeWorld("b")]);
  before = { a: await fingerprint(A.workspaceId), b: await fingerprint(B.workspaceId) };
});

describe("the table covers the document", () => {
  it("finds the admin operations and their id fields", () => {
    expect(operations.length).toBeGreaterThan(30);
    expect(docFields.filter((f) => f.carriesId).length).toBeGreaterThan(30);
  });

  for (const { op, field } of docFields.filter((f) => f.carriesId)) {
    it(`${op} ${field} has an entry`, () => {
      expect(TABLE[op]?.fields[field], `${op} ${field}: no entry in TABLE`).toBeDefined();
    });
  }

  it("names only fields the document has", () => {
    const known = new Set(docFields.map((f) => `${f.op} ${f.field}`));
    const stale = Object.entries(TABLE).flatMap(([op, entry]) =>
      Object.keys(entry.fields)
        .map((field) => `${op} ${field}`)
        .filter((k) => !known.has(k)),
    );
    expect(stale).toEqual([]);
  });
});

describe("another workspace's ids answer 404 to workspace A's admin", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const value = c.pick(B);
      const res = await send(A.token, probeOf(c.op, A, c.field, value));
      const text = await res.text();
      const shown = `${res.status} ${text}`;
      if (c.opaque) {
        const unknown = fresh("nobody-");
        const baseline = await send(A.token, probeOf(c.op, A, c.field, unknown));
        const baselineText = await baseline.text();
        expect(res.status, shown).toBe(baseline.status);
        expect(comparable(text, value), shown).toBe(comparable(baselineText, unknown));
      } else {
        expect(res.status, shown).toBe(404);
        expect(res.headers.get("content-type"), shown).toBe("application/problem+json");
        expect(JSON.parse(text).code, shown).toBe("NOT_FOUND");
      }
      expect(await auditRows(res.headers.get("request-id")), "audit rows written by this request").toBe(0);
      const leaked = B.own.filter((s) => s !== value && text.includes(s));
      expect(leaked, shown).toEqual([]);
    });
  }
});

describe("after the probes", () => {
  it("nothing changed in workspace B, and workspace A gained no audit row or other write", async () => {
    const after = { a: await fingerprint(A.workspaceId), b: await fingerprint(B.workspaceId) };
    expect(after.b).toEqual(before.b);
    expect(after.a).toEqual(before.a);
  });

  // Each probe differs from A's valid request in one field only: the same request with A's own
  // values must succeed, or a 404 above could come from the fixture rather than the boundary.
  for (const op of Object.keys(TABLE).filter((op) =>
    Object.values((TABLE[op] as OpEntry).fields).some((f) => !("notSent" in f)),
  )) {
    it(`${op} with A's own values succeeds`, async () => {
      const res = await send(A.token, probeOf(op, A, null, ""));
      const text = await res.text();
      expect(res.status, text).toBeGreaterThanOrEqual(200);
      expect(res.status, text).toBeLessThan(300);
    });
  }
});

// The webhook routes name no id: each acts on the token's own workspace. A's admin sees and changes
// A's webhook only (after the probes above, which must leave A unchanged).
describe("the workspace's webhook", () => {
  const own = (w: World, path: string, method = "GET") => call(path, { method, token: w.token });
  const deliveryIds = async (w: World) =>
    (await expectJson<{ items: { id: string }[] }>(await own(w, "/v1/admin/webhook/deliveries?limit=500"), 200)).items
      .map((d) => d.id)
      .sort();
  const leaks = (text: string) => B.own.filter((s) => text.includes(s));

  it("GET /v1/admin/webhook and GET …/deliveries answer A's own, nothing of B's", async () => {
    const hook = await own(A, "/v1/admin/webhook");
    const hookText = await hook.text();
    expect(hook.status, hookText).toBe(200);
    expect(JSON.parse(hookText).url).toBe(A.webhook.url);
    expect(leaks(hookText)).toEqual([]);
    const list = await own(A, "/v1/admin/webhook/deliveries?limit=500");
    const listText = await list.text();
    expect(list.status, listText).toBe(200);
    expect(listText).toContain(A.webhook.delivery);
    expect(leaks(listText)).toEqual([]);
  });

  it("PUT, POST …/test and DELETE /v1/admin/webhook change A's webhook only", async () => {
    const stateOfB = async () => ({
      hook: await (await own(B, "/v1/admin/webhook")).text(),
      deliveries: await deliveryIds(B),
    });
    const before = await stateOfB();
    const moved = await call("/v1/admin/webhook", {
      method: "PUT",
      token: A.token,
      json: { url: `${A.webhook.url}-moved`, rotateSecret: true },
    });
    const movedText = await moved.text();
    expect(moved.status, movedText).toBe(200);
    expect(leaks(movedText)).toEqual([]);
    const ping = await expectJson<{ id: string }>(await own(A, "/v1/admin/webhook/test", "POST"), 202);
    expect(await deliveryIds(A)).toContain(ping.id);
    await expectJson(await own(A, "/v1/admin/webhook", "DELETE"), 200);
    await expectProblem(await own(A, "/v1/admin/webhook"), 404, "NOT_FOUND");
    expect(await stateOfB()).toEqual(before);
    expect(JSON.parse(before.hook).url).toBe(B.webhook.url);
  });
});
