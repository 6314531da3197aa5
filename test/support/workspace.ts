import { env, exports } from "cloudflare:workers";
import type { WorkspaceRole } from "../../src/domain/permissions";
import { randomIds, webCryptoHasher } from "../../src/edge/crypto";
import { d1Store } from "../../src/store/d1-store";

export const BASE = "http://updraft.test";

/** Sends a request through the Worker's own fetch handler, with real local D1, R2 and KV. */
export function call(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers, body }));
}

/** Makes a workspace with one member of `role` and returns that member's token. Unique per call. */
export async function makeWorkspace(role: WorkspaceRole = "admin") {
  const store = d1Store(env.DB);
  const token = randomIds.token();
  const ids = { ws: randomIds.id("ws"), mem: randomIds.id("mem"), tok: randomIds.id("tok") };
  const result = await store.createWorkspace({
    workspace: { id: ids.ws, name: "Test", createdAt: Date.now() },
    member: { id: ids.mem, name: "Tester", email: `${ids.mem}@example.test`, role },
    token: { id: ids.tok, name: "test", tokenHash: await webCryptoHasher.sha256Hex(token) },
    audit: {
      id: randomIds.id("aud"),
      workspaceId: ids.ws,
      actorMemberId: ids.mem,
      actorTokenId: ids.tok,
      action: "workspace.bootstrap",
      resourceType: "workspace",
      resourceId: ids.ws,
      before: null,
      after: null,
      requestId: "test",
      createdAt: Date.now(),
    },
  });
  if (result !== "ok") throw new Error("could not create the test workspace");
  return { token, workspaceId: ids.ws, memberId: ids.mem };
}

/** Adds another member with `role` to a workspace and returns their token. */
export async function addMember(workspaceId: string, role: WorkspaceRole) {
  const token = randomIds.token();
  const memberId = randomIds.id("mem");
  await env.DB.batch([
    env.DB.prepare(
      "insert into members (id, workspace_id, name, email, role, created_at) values (?, ?, ?, ?, ?, ?)",
    ).bind(memberId, workspaceId, role, `${memberId}@example.test`, role, Date.now()),
    env.DB.prepare(
      "insert into api_tokens (id, workspace_id, member_id, name, token_hash, created_at) values (?, ?, ?, ?, ?, ?)",
    ).bind(randomIds.id("tok"), workspaceId, memberId, "test", await webCryptoHasher.sha256Hex(token), Date.now()),
  ]);
  return { token, memberId };
}

let counter = 0;
/** A key no other test uses (app keys are unique across the deployment). */
export function uniqueKey(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}
