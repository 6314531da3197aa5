import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { call, uniqueKey } from "./workspace";
import { makeZip } from "./zip";

// Factories over the admin API for integration tests: every helper asserts the call succeeded,
// so a failing setup step shows up where it happened, not as a confusing later assertion.

export interface ProblemJson {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: { pointer: string; message: string }[];
}

/** Asserts an RFC 9457 problem response with `status` and `code`; returns the body and its raw text. */
export async function expectProblem(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = JSON.parse(text) as ProblemJson;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.requestId).toMatch(/^req_[0-9a-f]{32}$/);
  expect(res.headers.get("request-id")).toBe(body.requestId);
  return { body, text };
}

/** The JSON body of a response that must have `status`; the body text is shown when it does not. */
export async function expectJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

export interface AppJson {
  id: string;
  key: string;
  environments: { id: string; name: string }[];
}

export async function createApp(token: string, environments: string[] = ["test", "prod"]) {
  const key = uniqueKey("app");
  const res = await call("/v1/admin/apps", {
    method: "POST",
    token,
    json: { key, name: "Host app", platforms: ["ios", "android"], environments },
  });
  return expectJson<AppJson>(res, 201);
}

export interface MiniProgramJson {
  id: string;
  key: string;
}

export async function createMiniProgram(token: string, key = uniqueKey("mp"), extra: Record<string, unknown> = {}) {
  const res = await call("/v1/admin/mini-programs", {
    method: "POST",
    token,
    json: { key, names: { en: key }, ...extra },
  });
  return expectJson<MiniProgramJson>(res, 201);
}

export interface VersionJson {
  id: string;
  miniProgramId: string;
  version: string;
  sha256: string;
  size: number;
  fileCount: number;
  compat: string;
}

export function uploadRequest(
  token: string,
  miniProgram: string,
  version: string,
  body: BodyInit,
  query: Record<string, string> = {},
) {
  const qs = new URLSearchParams({ version, ...query });
  return call(`/v1/admin/mini-programs/${encodeURIComponent(miniProgram)}/versions?${qs}`, {
    method: "POST",
    token,
    headers: { "content-type": "application/zip" },
    body,
  });
}

/** Uploads a small zip whose content names the version (so every version has different bytes). */
export async function uploadVersion(token: string, miniProgram: string, version: string, compat = "*") {
  const zip = makeZip({ "index.js": `console.log(${JSON.stringify(`${miniProgram}@${version}`)})`, "app.json": "{}" });
  return expectJson<VersionJson>(await uploadRequest(token, miniProgram, version, zip, { compat }), 201);
}

export interface ReleaseJson {
  id: string;
  versionId: string;
  miniProgramId: string;
  status: string;
  pausedFrom: string | null;
  seq: number;
  rollback: boolean;
  wentFull: boolean;
}

export function createReleaseRequest(
  token: string,
  input: {
    miniProgramId: string;
    version: string;
    appId: string;
    env: string;
    rollback?: boolean;
    updateMode?: string;
    config?: Record<string, unknown>;
  },
) {
  return call("/v1/admin/releases", { method: "POST", token, json: input });
}

export async function createRelease(token: string, input: Parameters<typeof createReleaseRequest>[1]) {
  return expectJson<ReleaseJson>(await createReleaseRequest(token, input), 201);
}

export function transitionRequest(token: string, releaseId: string, to: string, reason?: string) {
  return call(`/v1/admin/releases/${releaseId}/transitions`, {
    method: "POST",
    token,
    json: reason === undefined ? { to } : { to, reason },
  });
}

export async function transition(token: string, releaseId: string, to: string, reason?: string) {
  const release = await expectJson<ReleaseJson>(await transitionRequest(token, releaseId, to, reason), 200);
  expect(release.status).toBe(to);
  return release;
}

/** Uploads `version` of the mini program and creates its release on (app, env), status created. */
export async function uploadAndRelease(
  token: string,
  target: { miniProgram: string; appKey: string; env: string },
  version: string,
) {
  await uploadVersion(token, target.miniProgram, version);
  return createRelease(token, { miniProgramId: target.miniProgram, version, appId: target.appKey, env: target.env });
}

/** created → in_review → approved → full. */
export async function goFull(token: string, releaseId: string) {
  for (const to of ["in_review", "approved"]) await transition(token, releaseId, to);
  return transition(token, releaseId, "full");
}

/** Uploads `version`, releases it to (app, env) and takes the release to full. */
export async function releaseFull(
  token: string,
  target: { miniProgram: string; appKey: string; env: string },
  version: string,
  compat = "*",
) {
  const uploaded = await uploadVersion(token, target.miniProgram, version, compat);
  const release = await createRelease(token, {
    miniProgramId: target.miniProgram,
    version,
    appId: target.appKey,
    env: target.env,
  });
  await goFull(token, release.id);
  return { version: uploaded, release };
}

/**
 * A full release of `versions[0]` and, over it, a canary of `versions[1]` with `targeting` (as
 * PUT …/targeting takes it), both on (app, env) and both versions uploaded here.
 */
export async function canaryOverFull(
  token: string,
  target: { miniProgram: string; appKey: string; env: string },
  targeting: unknown,
  versions: [string, string] = ["1.0.0", "1.1.0"],
) {
  const { release: full } = await releaseFull(token, target, versions[0]);
  const canary = await uploadAndRelease(token, target, versions[1]);
  const t = await call(`/v1/admin/releases/${canary.id}/targeting`, { method: "PUT", token, json: targeting });
  expect(t.status, await t.text()).toBe(200);
  for (const to of ["in_review", "approved", "canary"]) await transition(token, canary.id, to);
  return { full, canary };
}

export async function getRelease(token: string, releaseId: string) {
  return expectJson<ReleaseJson>(await call(`/v1/admin/releases/${releaseId}`, { token }), 200);
}

/** A single number from a `select count(*) as n …` query against the real local D1. */
export async function count(query: string, ...binds: unknown[]): Promise<number> {
  const row = await env.DB.prepare(query)
    .bind(...binds)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

export const auditCount = (workspaceId: string) =>
  count("select count(*) as n from audit_logs where workspace_id = ?", workspaceId);

export const auditCountForRequest = (requestId: string) =>
  count("select count(*) as n from audit_logs where request_id = ?", requestId);
