// Every error code reachable over HTTP, in one table, plus hostile inputs that must never produce a 500.
// Longer than the usual file: the table is the point, and splitting it would hide which codes are covered.
import { env } from "cloudflare:workers";
import { gzipSync, strToU8, zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/domain/errors";
import {
  type AppJson,
  auditCount,
  auditCountForRequest,
  count,
  createApp,
  createMiniProgram,
  createRelease,
  createReleaseRequest,
  expectProblem,
  type MiniProgramJson,
  type ReleaseJson,
  releaseFull,
  transition,
  transitionRequest,
  uploadRequest,
  uploadVersion,
} from "../support/admin-factories";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip, sha256Hex } from "../support/zip";

const MARKER = "ECHO-MARKER-123";
const MiB = 1024 * 1024;

/** A zip whose entry names are taken verbatim (fflate does not normalise names). */
function zipWithNames(names: string[]): Uint8Array {
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const name of names) entries[name] = [strToU8(`// ${MARKER}`), { mtime: new Date(2020, 0, 1) }];
  return zipSync(entries);
}

/** A body stream of `total` bytes in 64 KiB chunks that records how much of it was pulled. */
function countingStream(total: number) {
  const state = { pulled: 0 };
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= total) return controller.close();
      state.pulled += chunk.byteLength;
      controller.enqueue(chunk.slice());
    },
  });
  return { stream, state };
}

const rawJson = (path: string, body: BodyInit, extra: { token?: string; contentType?: string } = {}) =>
  call(path, {
    method: "POST",
    ...(extra.token ? { token: extra.token } : {}),
    headers: extra.contentType === "" ? {} : { "content-type": extra.contentType ?? "application/json" },
    body,
  });

interface Fixture {
  token: string;
  workspaceId: string;
  reviewer: string;
  developer: string;
  revoked: string;
  app: AppJson;
  mp: MiniProgramJson;
  created: ReleaseJson;
  paused: ReleaseJson;
  otherWorkspaceApp: AppJson;
  packageSha: string;
}

const f = {} as Fixture;

beforeAll(async () => {
  const ws = await makeWorkspace();
  f.token = ws.token;
  f.workspaceId = ws.workspaceId;
  f.reviewer = (await addMember(ws.workspaceId, "reviewer")).token;
  f.developer = (await addMember(ws.workspaceId, "developer")).token;
  const revoked = await addMember(ws.workspaceId, "admin");
  await env.DB.prepare("update api_tokens set revoked_at = ? where member_id = ?")
    .bind(Date.now(), revoked.memberId)
    .run();
  f.revoked = revoked.token;
  f.app = await createApp(ws.token);
  f.mp = await createMiniProgram(ws.token);
  const target = { miniProgram: f.mp.key, appKey: f.app.key, env: "prod" };
  const full = await releaseFull(ws.token, target, "1.0.0");
  f.packageSha = full.version.sha256;
  f.paused = await transition(ws.token, full.release.id, "paused");
  await uploadVersion(ws.token, f.mp.key, "1.1.0");
  f.created = await createRelease(ws.token, {
    miniProgramId: f.mp.key,
    version: "1.1.0",
    appId: f.app.key,
    env: "prod",
  });
  f.otherWorkspaceApp = await createApp((await makeWorkspace()).token);
});

interface Case {
  name: string;
  status: number;
  code: string;
  send: () => Promise<Response>;
  /** The JSON pointer of the first field error, for VALIDATION_FAILED. */
  pointer?: string;
}

const checkBody = (over: Record<string, unknown> = {}) => ({
  appId: f.app.key,
  env: "prod",
  deviceId: "device-1",
  miniPrograms: [{ id: f.mp.key, version: null }],
  ...over,
});

const cases: Case[] = [
  // MALFORMED_JSON
  ...[
    ["truncated JSON on /v1/check", "/v1/check", `{"appId":"${MARKER}",`],
    ["a bare word on an admin route", "/v1/admin/apps", `{${MARKER}}`],
    ["an empty body", "/v1/check", ""],
  ].map(
    ([name = "", path = "", body = ""]): Case => ({
      name,
      status: 400,
      code: "MALFORMED_JSON",
      send: () => rawJson(path, body, { token: f.token }),
    }),
  ),
  // A `__proto__` key would be dropped without a word by any object copy: it is refused, with its
  // pointer (found by fuzzing).
  {
    name: "a __proto__ key in a mini program's names",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/names/__proto__",
    send: () =>
      rawJson("/v1/admin/mini-programs", `{"key":"proto-mp","names":{"en":"x","__proto__":"${MARKER}"}}`, {
        token: f.token,
      }),
  },
  {
    name: "a __proto__ key in a check's attributes",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/attributes/__proto__",
    send: () =>
      rawJson(
        "/v1/check",
        JSON.stringify(checkBody()).replace(
          '"miniPrograms"',
          `"attributes":{"__proto__":{"x":"${MARKER}"}},"miniPrograms"`,
        ),
      ),
  },
  {
    name: "invalid UTF-8 in a JSON body",
    status: 400,
    code: "MALFORMED_JSON",
    send: () => rawJson("/v1/check", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, ...strToU8(`${MARKER}":1}`)])),
  },
  // VALIDATION_FAILED, with pointers into the request
  ...(
    [
      ["an unknown platform", "/platforms/0", { key: uniqueKey("a"), name: "x", platforms: [MARKER] }],
      ["a bad app key", "/key", { key: MARKER, name: "x", platforms: ["ios"] }],
      [
        "a bad second environment",
        "/environments/1",
        { key: uniqueKey("a"), name: "x", platforms: ["ios"], environments: ["ok", MARKER] },
      ],
      ["an unknown field", "", { key: uniqueKey("a"), name: "x", platforms: ["ios"], [MARKER]: 1 }],
    ] as const
  ).map(
    ([name, pointer, json]): Case => ({
      name: `app create: ${name}`,
      status: 400,
      code: "VALIDATION_FAILED",
      pointer,
      send: () => call("/v1/admin/apps", { method: "POST", token: f.token, json }),
    }),
  ),
  ...(
    [
      [
        "a bad sha256 in the second item",
        "/miniPrograms/1/sha256",
        () => checkBody({ miniPrograms: [{ id: "a" }, { id: "b", sha256: MARKER }] }),
      ],
      ["no mini programs", "/miniPrograms", () => checkBody({ miniPrograms: [] })],
      ["a non-string attribute", "/attributes/plan", () => checkBody({ attributes: { plan: 7 } })],
      ["a pointer-escaped attribute key", "/attributes/a~1b~0c", () => checkBody({ attributes: { "a/b~c": 7 } })],
      ["a wrong-typed appId", "/appId", () => checkBody({ appId: 12 })],
    ] as const
  ).map(
    ([name, pointer, body]): Case => ({
      name: `check: ${name}`,
      status: 400,
      code: "VALIDATION_FAILED",
      pointer,
      send: () => call("/v1/check", { method: "POST", json: body() }),
    }),
  ),
  {
    name: "release create: a version that is not semver",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/version",
    send: () =>
      createReleaseRequest(f.token, { miniProgramId: f.mp.key, version: MARKER, appId: f.app.key, env: "prod" }),
  },
  {
    name: "transition: to a status only the system may set",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/to",
    send: () => transitionRequest(f.token, f.created.id, "archived"),
  },
  {
    name: "upload: a version that is not semver",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/version",
    send: () => uploadRequest(f.token, f.mp.key, MARKER, makeZip({ "a.js": "1" })),
  },
  {
    name: "upload: a compat that is not a range",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/compat",
    send: () => uploadRequest(f.token, f.mp.key, "3.0.0", makeZip({ "a.js": "1" }), { compat: `>=${MARKER}` }),
  },
  {
    name: "audit log: a limit that is not a number",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/limit",
    send: () => call(`/v1/admin/audit-logs?limit=${MARKER}`, { token: f.token }),
  },
  {
    name: "release list: an environment without its app (found by fuzzing: it was ignored)",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/env",
    send: () => call(`/v1/admin/releases?env=${MARKER}`, { token: f.token }),
  },
  {
    name: "release list: an unknown status",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/status",
    send: () => call(`/v1/admin/releases?status=${MARKER}`, { token: f.token }),
  },
  {
    name: "packages: a malformed hash",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/sha256",
    send: () => call(`/v1/packages/${MARKER}`),
  },
  // UNSUPPORTED_MEDIA_TYPE
  {
    name: "text/plain on /v1/check",
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: () => rawJson("/v1/check", JSON.stringify(checkBody()), { contentType: "text/plain" }),
  },
  {
    name: "no content-type on /v1/check",
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: () => rawJson("/v1/check", strToU8(JSON.stringify(checkBody())), { contentType: "" }),
  },
  // Media types with a JSON-ish essence that no route accepts (found by fuzzing: the admin routes
  // once answered these with a 500, the check with a 400). The router accepts the same set.
  ...[
    "application/json;",
    "application/json ; charset=utf-8",
    "application/json;charset=utf-8;",
    "application/json; charset",
    "application/vnd.api2+json",
    "application/x_y+json",
  ].flatMap((contentType): Case[] => [
    {
      name: `${contentType} on an admin route`,
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
      send: () => rawJson("/v1/admin/apps", JSON.stringify({ key: "m", name: "m" }), { token: f.token, contentType }),
    },
    {
      name: `${contentType} on /v1/check`,
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
      send: () => rawJson("/v1/check", JSON.stringify(checkBody()), { contentType }),
    },
  ]),
  // Found by fuzzing: a gzip body was read as-is (a misleading MALFORMED_JSON, or stored list text).
  ...(
    [
      ["/v1/check", "application/json"],
      ["/v1/admin/apps", "application/json"],
    ] as const
  ).map(
    ([path, contentType]): Case => ({
      name: `a gzip-coded body on ${path}`,
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
      send: () =>
        call(path, {
          method: "POST",
          token: f.token,
          headers: { "content-type": contentType, "content-encoding": "gzip" },
          body: gzipSync(strToU8(JSON.stringify({ marker: MARKER }))),
        }),
    }),
  ),
  {
    name: "a form body on an admin route",
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: () =>
      rawJson("/v1/admin/apps", `key=${MARKER}`, { token: f.token, contentType: "application/x-www-form-urlencoded" }),
  },
  {
    name: "a JSON body as a package upload",
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
    send: () =>
      call(`/v1/admin/mini-programs/${f.mp.key}/versions?version=3.0.0`, {
        method: "POST",
        token: f.token,
        json: { marker: MARKER },
      }),
  },
  // ROUTE_NOT_FOUND
  ...(
    [
      ["GET", "/nope"],
      ["GET", `/v1/${MARKER}`],
      ["DELETE", "/v1/check"],
      ["PUT", `/v1/packages/${"a".repeat(64)}`],
      ["GET", `/v1/admin/${MARKER}`],
    ] as const
  ).map(
    ([method, path]): Case => ({
      name: `${method} ${path}`,
      status: 404,
      code: "ROUTE_NOT_FOUND",
      send: () => call(path, { method, token: f.token }),
    }),
  ),
  // UNAUTHENTICATED
  ...(
    [
      ["no authorization header", {}],
      ["a malformed bearer token", { authorization: `Bearer ${MARKER}` }],
      ["another scheme", { authorization: `Basic ${btoa(`admin:${MARKER}`)}` }],
      ["a well-formed unknown token", { authorization: `Bearer upd_${"0".repeat(32)}` }],
    ] as const
  ).map(
    ([name, headers]): Case => ({
      name,
      status: 401,
      code: "UNAUTHENTICATED",
      send: () => call("/v1/admin/apps", { headers }),
    }),
  ),
  {
    name: "a revoked token",
    status: 401,
    code: "UNAUTHENTICATED",
    send: () => call("/v1/admin/apps", { token: f.revoked }),
  },
  {
    name: "bootstrap with a wrong secret",
    status: 401,
    code: "UNAUTHENTICATED",
    send: () =>
      call("/v1/bootstrap", {
        method: "POST",
        headers: { "updraft-bootstrap-secret": MARKER },
        json: { workspaceName: "w", adminName: "a", adminEmail: "a@example.test" },
      }),
  },
  // FORBIDDEN
  ...(["reviewer", "developer"] as const).map(
    (role): Case => ({
      name: `a ${role} creating an app`,
      status: 403,
      code: "FORBIDDEN",
      send: () =>
        call("/v1/admin/apps", {
          method: "POST",
          token: role === "reviewer" ? f.reviewer : f.developer,
          json: { key: uniqueKey("forbidden"), name: MARKER, platforms: ["ios"] },
        }),
    }),
  ),
  {
    name: "a reviewer creating a mini program",
    status: 403,
    code: "FORBIDDEN",
    send: () =>
      call("/v1/admin/mini-programs", {
        method: "POST",
        token: f.reviewer,
        json: { key: "mp-x", names: { en: "x" } },
      }),
  },
  {
    name: "member add: an unknown role",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/role",
    send: () =>
      call("/v1/admin/members", {
        method: "POST",
        token: f.token,
        json: { name: MARKER, handle: "new-member", role: "owner" },
      }),
  },
  {
    name: "token create: an unknown access",
    status: 400,
    code: "VALIDATION_FAILED",
    pointer: "/scopes/access",
    send: () =>
      call("/v1/admin/tokens", { method: "POST", token: f.token, json: { name: MARKER, scopes: { access: "all" } } }),
  },
  // UPDATE_MODE_NOT_ALLOWED
  {
    name: "an h5 mini program asking for the sync update mode",
    status: 422,
    code: "UPDATE_MODE_NOT_ALLOWED",
    pointer: "/defaultUpdateMode",
    send: () =>
      call("/v1/admin/mini-programs", {
        method: "POST",
        token: f.token,
        json: { key: "h5-sync", type: "h5", names: { en: MARKER }, defaultUpdateMode: "sync" },
      }),
  },
  // LAST_ADMIN
  {
    name: "the only admin removing themselves",
    status: 409,
    code: "LAST_ADMIN",
    send: async () => {
      const alone = await makeWorkspace();
      return call(`/v1/admin/members/${alone.memberId}`, { method: "DELETE", token: alone.token });
    },
  },
  {
    name: "the only admin demoting themselves",
    status: 409,
    code: "LAST_ADMIN",
    pointer: "/role",
    send: async () => {
      const alone = await makeWorkspace();
      return call(`/v1/admin/members/${alone.memberId}`, {
        method: "PATCH",
        token: alone.token,
        json: { role: "developer" },
      });
    },
  },
  // SCOPE_TOO_WIDE
  {
    name: "a developer's token limited to a mini program they have no role on",
    status: 422,
    code: "SCOPE_TOO_WIDE",
    pointer: "/scopes/miniProgramIds/0",
    send: () =>
      call("/v1/admin/tokens", {
        method: "POST",
        token: f.developer,
        json: { name: MARKER, scopes: { access: "read", miniProgramIds: [f.mp.key] } },
      }),
  },
  // INVALID_EXPIRY
  ...(
    [
      ["in the past", () => Date.now() - 1000],
      ["more than a year away", () => Date.now() + 400 * 86_400_000],
      ["never, for a person", () => null],
    ] as const
  ).map(
    ([when, expiresAt]): Case => ({
      name: `a token expiring ${when}`,
      status: 422,
      code: "INVALID_EXPIRY",
      pointer: "/expiresAt",
      send: () =>
        call("/v1/admin/tokens", { method: "POST", token: f.token, json: { name: MARKER, expiresAt: expiresAt() } }),
    }),
  ),
  {
    name: "a reviewer uploading a version",
    status: 403,
    code: "FORBIDDEN",
    send: () => uploadRequest(f.reviewer, f.mp.key, "3.0.0", makeZip({ "a.js": MARKER })),
  },
  {
    name: "a developer creating a release",
    status: 403,
    code: "FORBIDDEN",
    send: () =>
      createReleaseRequest(f.developer, { miniProgramId: f.mp.key, version: "1.1.0", appId: f.app.key, env: "test" }),
  },
  {
    name: "a reviewer submitting a release",
    status: 403,
    code: "FORBIDDEN",
    send: () => transitionRequest(f.reviewer, f.created.id, "in_review"),
  },
  // NOT_FOUND
  ...(
    [
      ["an unknown app", () => `/v1/admin/apps/${MARKER}`],
      ["another workspace's app", () => `/v1/admin/apps/${f.otherWorkspaceApp.key}`],
      ["an unknown mini program", () => `/v1/admin/mini-programs/${MARKER}`],
      ["an unknown version", () => `/v1/admin/mini-programs/${f.mp.key}/versions/9.9.9`],
      ["an unknown release", () => `/v1/admin/releases/${MARKER}`],
      ["releases of an unknown app", () => `/v1/admin/releases?appId=${MARKER}`],
    ] as const
  ).map(
    ([name, path]): Case => ({ name, status: 404, code: "NOT_FOUND", send: () => call(path(), { token: f.token }) }),
  ),
  {
    name: "an unknown package hash",
    status: 404,
    code: "NOT_FOUND",
    send: () => call(`/v1/packages/${"0".repeat(64)}`),
  },
  {
    name: "an upload to an unknown mini program",
    status: 404,
    code: "NOT_FOUND",
    send: () => uploadRequest(f.token, MARKER, "1.0.0", makeZip({ "a.js": "1" })),
  },
  {
    name: "a release of an unknown version",
    status: 404,
    code: "NOT_FOUND",
    send: () =>
      createReleaseRequest(f.token, { miniProgramId: f.mp.key, version: "9.9.9", appId: f.app.key, env: "prod" }),
  },
  {
    name: "a release to an unknown environment",
    status: 404,
    code: "NOT_FOUND",
    send: () =>
      createReleaseRequest(f.token, {
        miniProgramId: f.mp.key,
        version: "1.1.0",
        appId: f.app.key,
        env: MARKER.toLowerCase(),
      }),
  },
  {
    name: "an environment of an unknown app",
    status: 404,
    code: "NOT_FOUND",
    send: () =>
      call(`/v1/admin/apps/${MARKER}/environments`, { method: "POST", token: f.token, json: { name: "staging" } }),
  },
  {
    name: "a transition of an unknown release",
    status: 404,
    code: "NOT_FOUND",
    send: () => transitionRequest(f.token, "rel_unknown", "in_review"),
  },
  // CONFLICT
  {
    name: "a duplicate app key",
    status: 409,
    code: "CONFLICT",
    send: () =>
      call("/v1/admin/apps", {
        method: "POST",
        token: f.token,
        json: { key: f.app.key, name: MARKER, platforms: ["ios"] },
      }),
  },
  {
    name: "an app key taken in another workspace",
    status: 409,
    code: "CONFLICT",
    send: () =>
      call("/v1/admin/apps", {
        method: "POST",
        token: f.token,
        json: { key: f.otherWorkspaceApp.key, name: MARKER, platforms: ["ios"] },
      }),
  },
  {
    name: "a duplicate mini program key",
    status: 409,
    code: "CONFLICT",
    send: () =>
      call("/v1/admin/mini-programs", {
        method: "POST",
        token: f.token,
        json: { key: f.mp.key, names: { en: MARKER } },
      }),
  },
  {
    name: "a duplicate environment",
    status: 409,
    code: "CONFLICT",
    send: () =>
      call(`/v1/admin/apps/${f.app.key}/environments`, { method: "POST", token: f.token, json: { name: "prod" } }),
  },
  {
    name: "a second release of one version on one target",
    status: 409,
    code: "CONFLICT",
    send: () =>
      createReleaseRequest(f.token, { miniProgramId: f.mp.key, version: "1.1.0", appId: f.app.key, env: "prod" }),
  },
  {
    name: "a rollback release with no higher version out before",
    status: 409,
    code: "CONFLICT",
    send: () =>
      createReleaseRequest(f.token, {
        miniProgramId: f.mp.key,
        version: "1.1.0",
        appId: f.app.key,
        env: "test",
        rollback: true,
      }),
  },
  // VERSION_CONFLICT
  {
    name: "different bytes under an existing version",
    status: 409,
    code: "VERSION_CONFLICT",
    send: () => uploadRequest(f.token, f.mp.key, "1.0.0", makeZip({ "index.js": MARKER })),
  },
  // INVALID_TRANSITION
  ...(
    [
      ["created → full", () => f.created.id, "full", undefined],
      ["created → approved", () => f.created.id, "approved", undefined],
      ["paused (from full) → canary", () => f.paused.id, "canary", undefined],
      ["paused → in_review", () => f.paused.id, "in_review", MARKER],
    ] as const
  ).map(
    ([name, id, to, reason]): Case => ({
      name,
      status: 409,
      code: "INVALID_TRANSITION",
      send: () => transitionRequest(f.token, id(), to, reason),
    }),
  ),
  // PAYLOAD_TOO_LARGE
  {
    name: "a JSON body over 1 MiB",
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    send: () => call("/v1/check", { method: "POST", json: checkBody({ nonce: MARKER.repeat(MiB / 10) }) }),
  },
  {
    name: "a streamed JSON body over 1 MiB",
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    send: () => rawJson("/v1/check", countingStream(4 * MiB).stream),
  },
  {
    name: "a package over 1 MiB with a content-length",
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    send: () => uploadRequest(f.token, f.mp.key, "3.0.0", new Uint8Array(MiB + 1)),
  },
  // INVALID_PACKAGE
  ...(
    [
      ["bytes that are not a zip", () => strToU8(`${MARKER} `.repeat(100))],
      ["a zip with a ../ entry", () => zipWithNames(["index.js", "../evil.js"])],
      ["a zip with an absolute path", () => zipWithNames(["/etc/x"])],
      ["a zip with a backslash path", () => zipWithNames(["a\\..\\evil.js"])],
      ["a zip with no files", () => zipSync({})],
    ] as const
  ).map(
    ([name, bytes]): Case => ({
      name,
      status: 422,
      code: "INVALID_PACKAGE",
      send: () => uploadRequest(f.token, f.mp.key, "3.0.0", bytes()),
    }),
  ),
  // RANGE_NOT_SATISFIABLE
  {
    name: "a range past the end of a package",
    status: 416,
    code: "RANGE_NOT_SATISFIABLE",
    send: () => call(`/v1/packages/${f.packageSha}`, { headers: { range: "bytes=999999-" } }),
  },
];

/** Codes no request can provoke in this configuration: the signer is configured and every route exists for its methods. */
const UNREACHABLE = ["METHOD_NOT_ALLOWED", "SERVICE_MISCONFIGURED", "INTERNAL"];
/** Codes whose setup does not fit this table (it writes on the way), each tested in its own file. */
const TESTED_ELSEWHERE = [
  "SNAPSHOT_TOO_LARGE", // snapshot-budget.test.ts
  "CHECK_TOO_LARGE", // snapshot-budget.test.ts: needs parts near their bound
  "REGEX_BUDGET_EXCEEDED", // regex-budget.test.ts
  "SERVICE_UNAVAILABLE", // unit/check-outages.test.ts: needs storage that fails
  "RATE_LIMITED", // access.test.ts: needs many failed attempts from one address first
  "VERSION_IN_USE", // delete-version.test.ts: needs a live release of the version
  "LIST_IN_USE", // delete-version.test.ts: needs an open release that refers to the list
  "RELEASE_NOT_DELETABLE", // delete-version.test.ts: needs a release past created
  "RELEASE_NOT_PREVIEWABLE", // preview.test.ts: needs a release past approved
  "TARGET_IN_USE", // catalogue.test.ts: needs an open release on the target
  "FEATURE_IN_USE", // catalogue.test.ts: needs a feature added to a mini program
  "MINI_PROGRAM_REMOVED", // catalogue.test.ts: needs an approved removal
  "PUBLISHER_SIGNATURE_REQUIRED", // publishing.test.ts: needs a workspace that requires signed uploads
  "PUBLISHER_SIGNATURE_INVALID", // publishing.test.ts: needs a publisher key and a signed package
  "PUBLISHER_KEY_UNKNOWN", // publishing.test.ts: needs a signed package naming a key the workspace lacks
  "PUBLISHER_KEY_REVOKED", // publishing.test.ts: needs a revoked publisher key and a signed package
];

describe("error responses", () => {
  it("cover every reachable error code", () => {
    const covered = new Set(cases.map((c) => c.code));
    expect([...ERROR_CODES].filter((code) => !covered.has(code)).sort()).toEqual(
      [...UNREACHABLE, ...TESTED_ELSEWHERE].sort(),
    );
  });

  it.each(cases.map((c) => [c.code, c.name, c] as const))("%s: %s", async (_code, _name, c) => {
    const before = await auditCount(f.workspaceId);
    const res = await c.send();
    const { body, text } = await expectProblem(res, c.status, c.code);
    expect(text).not.toContain(MARKER);
    for (const [, value] of res.headers) expect(value).not.toContain(MARKER);
    if (c.pointer !== undefined) {
      expect(body.errors?.length).toBeGreaterThan(0);
      expect(body.errors?.[0]?.pointer).toBe(c.pointer);
    }
    expect(await auditCountForRequest(body.requestId)).toBe(0);
    expect(await auditCount(f.workspaceId)).toBe(before);
  });
});

describe("rejected uploads write nothing", () => {
  const versionsOf = (miniProgramId: string) =>
    count("select count(*) as n from versions where mini_program_id = ?", miniProgramId);

  it.each([
    ["not a zip", () => strToU8(`${MARKER} not a zip`.repeat(10)), 422],
    ["a ../ entry", () => zipWithNames(["ok.js", "../evil.js"]), 422],
    ["an absolute path", () => zipWithNames(["/etc/x"]), 422],
    ["too large", () => new Uint8Array(MiB + 10), 413],
    ["different bytes for 1.0.0", () => makeZip({ "index.js": `${MARKER} other` }), 409],
  ] as const)("%s: no version row, no audit row, no stored bytes", async (_name, bytes, status) => {
    const body = bytes();
    const version = status === 409 ? "1.0.0" : "4.0.0";
    const [versionsBefore, auditBefore] = [await versionsOf(f.mp.id), await auditCount(f.workspaceId)];
    const res = await uploadRequest(f.token, f.mp.key, version, body);
    expect(res.status).toBe(status);
    await res.body?.cancel();
    expect(await versionsOf(f.mp.id)).toBe(versionsBefore);
    expect(await auditCount(f.workspaceId)).toBe(auditBefore);
    const sha = await sha256Hex(body);
    expect(await env.PACKAGES.head(`packages/${sha}`)).toBeNull();
    expect(await env.PACKAGES.head(`manifests/${sha}.json`)).toBeNull();
  });

  it("a streamed package over the limit is refused while it is read, and nothing is stored", async () => {
    const [versionsBefore, auditBefore] = [await versionsOf(f.mp.id), await auditCount(f.workspaceId)];
    const total = 8 * MiB;
    const { stream, state } = countingStream(total);
    const res = await call(`/v1/admin/mini-programs/${f.mp.key}/versions?version=5.0.0`, {
      method: "POST",
      token: f.token,
      headers: { "content-type": "application/zip" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expectProblem(res, 413, "PAYLOAD_TOO_LARGE");
    // The server stopped reading shortly past the limit instead of draining the whole body.
    expect(state.pulled).toBeGreaterThan(MiB);
    expect(state.pulled).toBeLessThan(2 * MiB);
    expect(await versionsOf(f.mp.id)).toBe(versionsBefore);
    expect(await auditCount(f.workspaceId)).toBe(auditBefore);
    const listed = await call(`/v1/admin/mini-programs/${f.mp.key}/versions/5.0.0`, { token: f.token });
    await expectProblem(listed, 404, "NOT_FOUND");
  });

  it("concurrent uploads of one version number with different bytes: one wins, the losers' bytes are gone", async () => {
    // Found by fuzzing: the losers' VERSION_CONFLICT left their bytes and manifests downloadable.
    const zips = [0, 1, 2, 3].map((i) => makeZip({ "index.js": `racer ${i}` }));
    const answers = await Promise.all(
      zips.map((zip) =>
        call(`/v1/admin/mini-programs/${f.mp.key}/versions?version=6.0.0`, {
          method: "POST",
          token: f.token,
          headers: { "content-type": "application/zip" },
          body: zip,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409]);
    for (const [i, zip] of zips.entries()) {
      const sha = await sha256Hex(zip);
      const kept = (await answers[i]?.clone().text())?.includes(sha) === true && answers[i]?.status === 201;
      expect((await env.PACKAGES.head(`packages/${sha}`)) !== null, `racer ${i}`).toBe(kept);
      expect((await env.PACKAGES.head(`manifests/${sha}.json`)) !== null, `racer ${i}`).toBe(kept);
    }
  });

  it("a streamed package under the limit (no content-length) is accepted", async () => {
    const zip = makeZip({ "index.js": "streamed" });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(zip.slice(0, 10));
        controller.enqueue(zip.slice(10));
        controller.close();
      },
    });
    const res = await call(`/v1/admin/mini-programs/${f.mp.key}/versions?version=5.1.0`, {
      method: "POST",
      token: f.token,
      headers: { "content-type": "application/zip" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(201);
    expect((await res.json<{ sha256: string }>()).sha256).toBe(await sha256Hex(zip));
  });
});

describe("hostile input never yields a 500", () => {
  const deep = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
  const checkText = (over: string) =>
    `{"appId":"${f.app.key}","env":"prod","deviceId":"d","appVersion":"8.1.0","miniPrograms":[{"id":"${f.mp.key}","version":null}]${over}}`;

  const checkBodies: [string, () => string][] = [
    ["a huge number as appVersion", () => checkText(`,"nonce":1e400`).replace('"8.1.0"', "1e308")],
    [
      "a huge semver as installed version",
      () => checkText("").replace('"version":null', '"version":"99999999999999999999.0.0"'),
    ],
    ["a huge semver as appVersion", () => checkText("").replace('"8.1.0"', '"99999999999999999999999.0.0"')],
    [
      "a huge failed list entry",
      () => checkText("").replace('"version":null', '"version":"1.0.0","failed":["1e999999"]'),
    ],
    [
      "nested arrays as mini programs",
      () => checkText("").replace(/"miniPrograms":.*$/, `"miniPrograms":${deep(500)}}`),
    ],
    ["deeply nested arrays", () => deep(100_000)],
    ["a top-level null", () => "null"],
    ["a top-level number", () => "123456789e999"],
    ["a string where an object belongs", () => checkText("").replace(/"miniPrograms":.*$/, '"miniPrograms":"pay"}')],
    ["an object where a string belongs", () => checkText(`,"nonce":{"a":[1,2,{}]}`)],
    ["an array as attributes", () => checkText(`,"attributes":["a","b"]`)],
    ["emoji and RTL text", () => checkText("").replaceAll(f.mp.key, "💥\u202eabc\u0301")],
    ["a lone surrogate as app id", () => checkText("").replace(f.app.key, "\\ud800")],
    ["a lone surrogate as environment", () => checkText("").replace('"prod"', '"\\udfff"')],
    [
      "a lone surrogate as mini program and version",
      () => checkText("").replace(`"${f.mp.key}","version":null`, '"\\ud800","version":"\\ud800"'),
    ],
    [
      "null bytes everywhere",
      () => checkText(`,"userId":"\\u0000"`).replaceAll(f.mp.key, "a\\u0000b").replace('"d"', '"\\u0000"'),
    ],
    ["a byte-order mark", () => `\ufeff${checkText("")}`],
  ];

  it.each(checkBodies)("POST /v1/check: %s", async (_name, body) => {
    const res = await rawJson("/v1/check", body());
    const text = await res.text();
    expect(res.status, text).toBeLessThan(500);
    if (res.status >= 400) expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  const adminRequests: [string, () => Promise<Response>][] = [
    [
      "app with a huge number name",
      () => rawJson("/v1/admin/apps", `{"key":"k-${Date.now()}","name":1e400,"platforms":["ios"]}`, { token: f.token }),
    ],
    [
      "app with nested platforms",
      () =>
        call("/v1/admin/apps", {
          method: "POST",
          token: f.token,
          json: { key: uniqueKey("n"), name: "x", platforms: [[["ios"]]] },
        }),
    ],
    [
      "app with a null byte key",
      () =>
        call("/v1/admin/apps", {
          method: "POST",
          token: f.token,
          json: { key: "a\u0000b", name: "x", platforms: ["ios"] },
        }),
    ],
    [
      "app with lone surrogates and null bytes in its name",
      () =>
        rawJson("/v1/admin/apps", `{"key":"${uniqueKey("s")}","name":"\\ud800\\u0000","platforms":["ios"]}`, {
          token: f.token,
        }),
    ],
    [
      "mini program with unicode names",
      () =>
        call("/v1/admin/mini-programs", {
          method: "POST",
          token: f.token,
          json: { key: uniqueKey("u"), names: { en: "💥\u202e", "zh-CN": "\u0000" } },
        }),
    ],
    [
      "release with lone surrogates",
      () =>
        rawJson(
          "/v1/admin/releases",
          `{"miniProgramId":"\\ud800","version":"1.0.0","appId":"\\udfff","env":"\\ud800"}`,
          { token: f.token },
        ),
    ],
    [
      "release with wrong types",
      () =>
        call("/v1/admin/releases", {
          method: "POST",
          token: f.token,
          json: { miniProgramId: [], version: 1e308, appId: {}, env: null, rollback: "yes" },
        }),
    ],
    [
      "transition with an array status",
      () =>
        call(`/v1/admin/releases/${f.created.id}/transitions`, {
          method: "POST",
          token: f.token,
          json: { to: ["full"] },
        }),
    ],
    ["audit log with an infinite limit", () => call("/v1/admin/audit-logs?limit=1e400", { token: f.token })],
    ["audit log with a negative limit", () => call("/v1/admin/audit-logs?limit=-1", { token: f.token })],
    [
      "audit log with a garbage cursor",
      () => call("/v1/admin/audit-logs?cursor=99999999999999999999999~%00", { token: f.token }),
    ],
    ["an app id with a null byte", () => call("/v1/admin/apps/%00", { token: f.token })],
    ["a mini program id that is invalid UTF-8", () => call("/v1/admin/mini-programs/%ED%A0%80", { token: f.token })],
    [
      "a huge semver in a path",
      () => call(`/v1/admin/mini-programs/${f.mp.key}/versions/99999999999999999999.0.0`, { token: f.token }),
    ],
    [
      "releases filtered by an invalid UTF-8 app",
      () => call("/v1/admin/releases?appId=%ED%A0%80&env=%00", { token: f.token }),
    ],
    [
      "an upload with a null byte compat",
      () => uploadRequest(f.token, f.mp.key, "6.0.0", makeZip({ "a.js": "1" }), { compat: "\u0000" }),
    ],
    [
      "a package range with huge numbers",
      () => call(`/v1/packages/${f.packageSha}`, { headers: { range: "bytes=99999999999999999999999-" } }),
    ],
    [
      "a package suffix range with a huge number",
      () => call(`/v1/packages/${f.packageSha}`, { headers: { range: "bytes=-99999999999999999999999" } }),
    ],
  ];

  it.each(adminRequests)("%s", async (_name, send) => {
    const res = await send();
    // Package bytes are not text: read them as bytes so the body is consumed either way.
    const text =
      res.headers.get("content-type") === "application/zip"
        ? String((await res.arrayBuffer()).byteLength)
        : await res.text();
    expect(res.status, text).toBeLessThan(500);
    if (res.status >= 400) expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("JSON media types with parameters or a +json suffix are accepted", () => {
  it.each(["application/json; charset=utf-8", "APPLICATION/JSON;charset=UTF-8", "application/vnd.updraft+json"])(
    "%s on an admin route and on /v1/check",
    async (contentType) => {
      const created = await rawJson(
        "/v1/admin/apps",
        JSON.stringify({ key: uniqueKey("mt"), name: "Media types", platforms: ["ios"], environments: ["prod"] }),
        {
          token: f.token,
          contentType,
        },
      );
      expect(created.status, await created.text()).toBe(201);
      const checked = await rawJson("/v1/check", JSON.stringify(checkBody()), { contentType });
      expect(checked.status, await checked.text()).toBe(200);
    },
  );
});
