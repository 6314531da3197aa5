import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { MiniProgramRole, TokenAccess, WorkspaceRole } from "../../src/domain/permissions";
import type { ReleaseStatus } from "../../src/domain/release-status";
import { ed25519Signer, randomIds } from "../../src/edge/crypto";
import { d1Store } from "../../src/store/d1-store";
import type { AuditEntry, ReleaseRecord, VersionRecord } from "../../src/usecases/ports";
import { expectJson } from "./admin-factories";
import { call, uniqueKey } from "./workspace";

// Helpers for test/integration/access-matrix.test.ts: members and tokens made through the admin
// API, version and release fixtures through the store, and what a request wrote to D1 (its audit
// rows, a fingerprint of a workspace's rows).

const WS_MINI_PROGRAMS = "select id from mini_programs where workspace_id = ?1";
const WS_APPS = "select id from apps where workspace_id = ?1";
const WS_MEMBERS = "select id from members where workspace_id = ?1";

/**
 * Every relational row of a workspace, table by table: each query selects all columns of the rows
 * that belong to the workspace (directly, or through its apps, mini programs or members).
 */
const FINGERPRINT_QUERIES: Readonly<Record<string, string>> = {
  workspaces: "select * from workspaces where id = ?1 order by id",
  members: "select * from members where workspace_id = ?1 order by id",
  member_invites: "select * from member_invites where workspace_id = ?1 order by id",
  api_tokens: "select * from api_tokens where workspace_id = ?1 order by id",
  apps: "select * from apps where workspace_id = ?1 order by id",
  environments: `select * from environments where app_id in (${WS_APPS}) order by id`,
  mini_programs: "select * from mini_programs where workspace_id = ?1 order by id",
  mini_program_members:
    `select * from mini_program_members where mini_program_id in (${WS_MINI_PROGRAMS}) ` +
    `or member_id in (${WS_MEMBERS}) order by mini_program_id, member_id`,
  versions: `select * from versions where mini_program_id in (${WS_MINI_PROGRAMS}) order by id`,
  releases: `select * from releases where mini_program_id in (${WS_MINI_PROGRAMS}) or app_id in (${WS_APPS}) order by id`,
  allowlists: "select * from allowlists where workspace_id = ?1 order by id",
  qr_codes: "select * from qr_codes where workspace_id = ?1 order by id",
  features: "select * from features where workspace_id = ?1 order by id",
  mini_program_features: `select * from mini_program_features where mini_program_id in (${WS_MINI_PROGRAMS}) order by mini_program_id, feature_id`,
  removal_requests: "select * from removal_requests where workspace_id = ?1 order by id",
  publisher_keys: "select * from publisher_keys where workspace_id = ?1 order by id",
  patches: "select * from patches where workspace_id = ?1 order by id",
  audit_logs: "select * from audit_logs where workspace_id = ?1 order by id",
};

/** Columns a request may change without writing anything: authentication records a token's last use. */
const IGNORED_COLUMNS: Readonly<Record<string, readonly string[]>> = { api_tokens: ["last_used_at"] };

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A hash per table of every row of the workspace (one D1 batch). Compared with toEqual, a change
 * names the tables it touched.
 */
export async function fingerprint(workspaceId: string): Promise<Record<string, string>> {
  const tables = Object.keys(FINGERPRINT_QUERIES);
  const results = await env.DB.batch(
    tables.map((table) => env.DB.prepare(FINGERPRINT_QUERIES[table] as string).bind(workspaceId)),
  );
  const out: Record<string, string> = {};
  for (const [i, table] of tables.entries()) {
    const ignored = IGNORED_COLUMNS[table] ?? [];
    const rows = (results[i]?.results ?? []).map((row) =>
      Object.fromEntries(
        Object.entries(row as Record<string, unknown>).filter(([column]) => !ignored.includes(column)),
      ),
    );
    out[table] = `${rows.length}:${await sha256Hex(JSON.stringify(rows))}`;
  }
  return out;
}

/** The audit rows a request wrote, found by its request id. */
export async function auditRowsOf(requestId: string): Promise<{ action: string; workspace_id: string }[]> {
  const rows = await env.DB.prepare("select action, workspace_id from audit_logs where request_id = ?")
    .bind(requestId)
    .all<{ action: string; workspace_id: string }>();
  return rows.results;
}

export interface MemberJson {
  id: string;
  kind: "person" | "service";
  role: WorkspaceRole;
  invite: { secret: string; expiresAt: number } | null;
}

export interface TokenJson {
  id: string;
  memberId: string;
  secret: string;
  scopes: { access: TokenAccess; miniProgramIds: string[] | null };
}

/** Adds a member (a person, who gets an invite, or a service account) through POST /v1/admin/members. */
export async function addMemberViaApi(
  adminToken: string,
  input: {
    kind: "person" | "service";
    role: WorkspaceRole;
    miniProgramRoles?: { miniProgramId: string; role: MiniProgramRole }[];
  },
): Promise<MemberJson> {
  const handle = uniqueKey(input.kind === "person" ? "person" : "ci").toLowerCase();
  const res = await call("/v1/admin/members", {
    method: "POST",
    token: adminToken,
    json: { name: handle, handle, ...input, miniProgramRoles: input.miniProgramRoles ?? [] },
  });
  return expectJson<MemberJson>(res, 201);
}

/** Creates a token through POST /v1/admin/tokens (for the presenting token's member, or a service account). */
export async function createTokenViaApi(
  token: string,
  input: { scopes?: { access: TokenAccess; miniProgramIds?: string[] | null }; memberId?: string } = {},
): Promise<TokenJson> {
  const res = await call("/v1/admin/tokens", { method: "POST", token, json: { name: uniqueKey("tok"), ...input } });
  return expectJson<TokenJson>(res, 201);
}

let publisherSeeds = 0;

/**
 * A publisher's Ed25519 public key (raw 32 bytes, base64url) no earlier call returned: its seed is
 * derived from a counter, since the same key twice in one workspace is 409 CONFLICT.
 */
export async function newPublisherPublicKey(): Promise<string> {
  publisherSeeds += 1;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`publisher-seed-${publisherSeeds}`));
  const seed = btoa(String.fromCharCode(...new Uint8Array(digest)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  const signer = ed25519Signer(seed, "publisher");
  if (signer === null) throw new Error("not a 32-byte seed");
  return signer.publicKey();
}

export interface PublisherKeyJson {
  id: string;
  keyId: string;
  name: string;
  publicKey: string;
  revokedAt: number | null;
}

/** Adds a new publisher key through POST /v1/admin/publisher-keys (workspace admins). */
export async function addPublisherKeyViaApi(
  adminToken: string,
  name = uniqueKey("publisher"),
): Promise<PublisherKeyJson> {
  const res = await call("/v1/admin/publisher-keys", {
    method: "POST",
    token: adminToken,
    json: { name, publicKey: await newPublisherPublicKey() },
  });
  return expectJson<PublisherKeyJson>(res, 201);
}

// Release fixtures through the store port, for speed. No delivery is published for them: a created
// or in-review release has none, and a full one written this way is what a rebuild of delivery data
// exists for (devices get nothing until then).

function fixtureAudit(workspaceId: string, actorMemberId: string, action: string, resourceId: string): AuditEntry {
  return {
    id: randomIds.id("aud"),
    workspaceId,
    actorMemberId,
    actorTokenId: "fixture",
    action,
    resourceType: action.split(".")[0] ?? "",
    resourceId,
    before: null,
    after: null,
    requestId: "fixture",
    createdAt: Date.now(),
  };
}

/** The package bytes version fixtures point at: a real upload's sha256, size and file count. */
export interface StoredPackage {
  sha256: string;
  size: number;
  fileCount: number;
  manifestSha256: string | null;
}

/** A version row of the mini program over already stored package bytes (content-addressed). */
export async function versionFixture(
  workspaceId: string,
  miniProgramId: string,
  version: string,
  pkg: StoredPackage,
  uploadedBy: string,
): Promise<VersionRecord> {
  const record: VersionRecord = {
    id: randomIds.id("ver"),
    miniProgramId,
    version,
    ...pkg,
    compat: "*",
    defaultUpdateMode: "default",
    releaseNote: "",
    publisherSignature: null,
    publisherKeyId: null,
    uploadedBy,
    createdAt: Date.now(),
    deletedAt: null,
  };
  const result = await d1Store(env.DB).createVersion(
    record,
    fixtureAudit(workspaceId, uploadedBy, "version.upload", record.id),
  );
  expect(result).toBe("ok");
  return record;
}

/** A release of `version` on (app, environment) in `status`, created (and submitted, past created) by `by`. */
export async function releaseFixture(
  workspaceId: string,
  target: { appId: string; environmentId: string },
  version: VersionRecord,
  status: Extract<ReleaseStatus, "created" | "in_review" | "full">,
  by: string,
): Promise<ReleaseRecord> {
  const now = Date.now();
  const id = randomIds.id("rel");
  const created = await d1Store(env.DB).createRelease(
    {
      id,
      versionId: version.id,
      miniProgramId: version.miniProgramId,
      appId: target.appId,
      environmentId: target.environmentId,
      status,
      pausedFrom: null,
      wentFull: status === "full",
      rollback: false,
      updateMode: "default",
      config: {},
      targeting: null,
      reviewReason: null,
      submittedBy: status === "created" ? null : by,
      previewTestersOnly: false,
      approvedHash: null,
      createdBy: by,
      createdAt: now,
      updatedAt: now,
      rowVersion: 1,
    },
    fixtureAudit(workspaceId, by, "release.create", id),
  );
  if (typeof created === "string") throw new Error(`could not create the release fixture: ${created}`);
  return created;
}

/** A failed incremental patch between two versions of a mini program (what the retry route reopens). */
export async function failedPatchFixture(
  workspaceId: string,
  miniProgramId: string,
  base: VersionRecord,
  target: VersionRecord,
): Promise<string> {
  const id = randomIds.id("pat");
  const now = Date.now();
  await env.DB.prepare(
    "insert into patches (id, workspace_id, mini_program_id, base_version_id, target_version_id, format, status, attempts, error, created_at, updated_at) values (?, ?, ?, ?, ?, 'updraft-zstd-v1', 'failed', 4, 'Gave up after 4 attempts: a fixture', ?, ?)",
  )
    .bind(id, workspaceId, miniProgramId, base.id, target.id, now, now)
    .run();
  return id;
}
