import { env, exports } from "cloudflare:workers";
import type { WorkspaceRole } from "../../src/domain/permissions";
import { randomIds, webCryptoHasher } from "../../src/edge/crypto";
import { d1Store } from "../../src/store/d1-store";

export const BASE = "http://updraft.test";

/** Sends a request through the Worker's own fetch handler, with real local D1, R2 and KV. */
export function call(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  // Failed authentications are limited per client address (docs/access.md): every call comes from
  // its own address unless the test names one, so tests that send bad tokens never block others.
  if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", randomAddress());
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers, body }));
}

const FULL = { access: "full", miniProgramIds: null } as const;
const LONG_AGO = 0;

/**
 * Makes a workspace with one member of `role` and returns that member's token. Unique per call.
 * Its members may approve their own releases unless `selfApproval` is false: most tests play every
 * role with one token (test/integration/access.test.ts covers the rule).
 */
export async function makeWorkspace(role: WorkspaceRole = "admin", { selfApproval = true } = {}) {
  const store = d1Store(env.DB);
  const token = randomIds.token();
  const ids = { ws: randomIds.id("ws"), mem: randomIds.id("mem"), tok: randomIds.id("tok") };
  const now = Date.now();
  const result = await store.createWorkspace({
    workspace: {
      id: ids.ws,
      name: "Test",
      allowSelfApproval: selfApproval,
      requireSignedUploads: false,
      createdAt: now,
      rowVersion: 1,
    },
    member: {
      id: ids.mem,
      workspaceId: ids.ws,
      name: "Tester",
      email: `${ids.mem}@example.test`,
      handle: `${ids.mem}@example.test`,
      kind: "person",
      role,
      createdBy: null,
      createdAt: now,
      removedAt: null,
      rowVersion: 1,
    },
    token: {
      id: ids.tok,
      workspaceId: ids.ws,
      memberId: ids.mem,
      name: "test",
      prefix: token.slice(0, 12),
      scopes: FULL,
      expiresAt: null,
      createdBy: null,
      createdAt: now,
      tokenHash: await webCryptoHasher.sha256Hex(token),
    },
    audit: {
      id: randomIds.id("aud"),
      workspaceId: ids.ws,
      actorMemberId: ids.mem,
      actorTokenId: ids.tok,
      action: "workspace.create",
      resourceType: "workspace",
      resourceId: ids.ws,
      before: null,
      after: null,
      requestId: "test",
      createdAt: now,
    },
  });
  if (result !== "ok") throw new Error("could not create the test workspace");
  return { token, workspaceId: ids.ws, memberId: ids.mem, tokenId: ids.tok };
}

/**
 * Adds another member with `role` to a workspace and returns their token; `miniPrograms` gives
 * them roles on mini programs (ids).
 */
export async function addMember(
  workspaceId: string,
  role: WorkspaceRole,
  miniPrograms: Record<string, "admin" | "developer"> = {},
) {
  const token = randomIds.token();
  const memberId = randomIds.id("mem");
  const tokenId = randomIds.id("tok");
  await env.DB.batch([
    env.DB.prepare(
      "insert into members (id, workspace_id, name, email, handle, role, created_at) values (?, ?, ?, ?, ?, ?, ?)",
    ).bind(memberId, workspaceId, role, `${memberId}@example.test`, `${memberId}@example.test`, role, Date.now()),
    env.DB.prepare(
      "insert into api_tokens (id, workspace_id, member_id, name, token_hash, prefix, created_at) values (?, ?, ?, ?, ?, ?, ?)",
    ).bind(
      tokenId,
      workspaceId,
      memberId,
      "test",
      await webCryptoHasher.sha256Hex(token),
      token.slice(0, 12),
      Date.now(),
    ),
    ...Object.entries(miniPrograms).map(([mp, r]) =>
      env.DB.prepare(
        "insert into mini_program_members (mini_program_id, member_id, role, created_at) values (?, ?, ?, ?)",
      ).bind(mp, memberId, r, LONG_AGO),
    ),
  ]);
  return { token, memberId, tokenId };
}

function randomAddress(): string {
  const [a = 0, b = 0, c = 0] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c}`;
}

let counter = 0;
/** A key no other test uses (app keys are unique across the deployment). */
export function uniqueKey(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}
