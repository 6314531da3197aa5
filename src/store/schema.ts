import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { RELEASE_STATUSES } from "../domain/release-status";
import { UPDATE_MODES } from "../domain/update-mode";

// Conventions: prefixed random text ids, integer millisecond timestamps, JSON in text columns,
// a `row_version` column on rows changed by read-modify-write (compare-and-swap; a lost race is a 409).

export const workspaces = sqliteTable("workspaces", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** Whether a member may approve a release they submitted themselves. */
  allowSelfApproval: integer("allow_self_approval", { mode: "boolean" }).notNull().default(false),
  /** Whether every upload must carry a valid publisher signature (docs/publishing.md). */
  requireSignedUploads: integer("require_signed_uploads", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
  rowVersion: integer("row_version").notNull().default(1),
});

export const members = sqliteTable(
  "members",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    /** The member's e-mail address, or "" (service accounts, members added by handle). */
    email: text("email").notNull(),
    /** Unique in the workspace, lower case: a handle or an e-mail address. */
    handle: text("handle").notNull().default(""),
    kind: text("kind", { enum: ["person", "service"] })
      .notNull()
      .default("person"),
    role: text("role", { enum: ["admin", "reviewer", "developer"] }).notNull(),
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull(),
    /** Set when removed: the row stays for the audit history, its tokens are revoked. */
    removedAt: integer("removed_at"),
    rowVersion: integer("row_version").notNull().default(1),
  },
  // A removed member's handle is free again: the same person can be added back.
  (t) => [uniqueIndex("members_workspace_handle").on(t.workspaceId, t.handle).where(sql`${t.removedAt} is null`)],
);

/** One-time secrets a person exchanges for a first token (members have no other login). */
export const memberInvites = sqliteTable(
  "member_invites",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    /** Hex sha256 of the secret. */
    secretHash: text("secret_hash").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("member_invites_hash").on(t.secretHash), index("member_invites_member").on(t.memberId)],
);

/** Failed authentications per client address (docs/access.md, "Brute force"). */
export const authFailures = sqliteTable("auth_failures", {
  key: text("key").primaryKey(),
  windowStart: integer("window_start").notNull(),
  failures: integer("failures").notNull(),
});

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    name: text("name").notNull(),
    /** Hex sha256 of the whole token; the token itself is shown once and never stored. */
    tokenHash: text("token_hash").notNull(),
    /** The secret's first characters, shown in lists so a token can be recognised. */
    prefix: text("prefix").notNull().default(""),
    /** `{ access, miniProgramIds }` (domain/permissions.ts TokenScope). */
    scopes: text("scopes", { mode: "json" })
      .$type<{ access: "read" | "publish" | "full"; miniProgramIds: string[] | null }>()
      .notNull()
      .default(sql`'{"access":"full","miniProgramIds":null}'`),
    expiresAt: integer("expires_at"),
    lastUsedAt: integer("last_used_at"),
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
    /** The token a rotation replaced this one with: it cannot be rotated again. */
    replacedBy: text("replaced_by"),
  },
  (t) => [uniqueIndex("api_tokens_hash").on(t.tokenHash), index("api_tokens_member").on(t.memberId)],
);

/** Ed25519 public keys publishers sign packages with (docs/publishing.md). */
export const publisherKeys = sqliteTable(
  "publisher_keys",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    /** First 16 hex digits of the sha256 of the raw key: what an upload names the key by. */
    keyId: text("key_id").notNull(),
    name: text("name").notNull(),
    /** The raw 32-byte Ed25519 public key, base64url. */
    publicKey: text("public_key").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
    revokedBy: text("revoked_by"),
  },
  (t) => [uniqueIndex("publisher_keys_workspace_key").on(t.workspaceId, t.keyId)],
);

export const apps = sqliteTable(
  "apps",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    /** Public key devices send as `appId`; unique across the deployment. */
    key: text("key").notNull(),
    name: text("name").notNull(),
    platforms: text("platforms", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: integer("created_at").notNull(),
    /** Set when deleted: the row stays, so its key is never given to anyone else. */
    deletedAt: integer("deleted_at"),
  },
  (t) => [uniqueIndex("apps_key").on(t.key), index("apps_workspace").on(t.workspaceId)],
);

export const environments = sqliteTable(
  "environments",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id),
    name: text("name").notNull(),
    /** Grows with every change that affects delivery on this target; stamps its snapshot. */
    snapshotVersion: integer("snapshot_version").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    /** Set when deleted: the row (and its name on the app) stays, see apps.deletedAt. */
    deletedAt: integer("deleted_at"),
  },
  (t) => [uniqueIndex("environments_app_name").on(t.appId, t.name)],
);

export const miniPrograms = sqliteTable(
  "mini_programs",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    /** Public key devices send as `miniPrograms[].id`; unique in the workspace. */
    key: text("key").notNull(),
    type: text("type", { enum: ["dsl", "h5"] }).notNull(),
    origin: text("origin", { enum: ["workspace", "external"] }).notNull(),
    names: text("names", { mode: "json" }).$type<Record<string, string>>().notNull(),
    descriptions: text("descriptions", { mode: "json" }).$type<Record<string, string>>().notNull(),
    defaultUpdateMode: text("default_update_mode", { enum: UPDATE_MODES }).notNull(),
    minUsableVersion: text("min_usable_version"),
    config: text("config", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** An https URL of the mini program's icon, or null. */
    icon: text("icon"),
    category: text("category"),
    /** The member who created it (null for mini programs created before this was recorded). */
    createdBy: text("created_by"),
    /** Set when a removal request was approved: delivery tells devices to delete it. */
    removedAt: integer("removed_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    rowVersion: integer("row_version").notNull().default(1),
  },
  (t) => [uniqueIndex("mini_programs_workspace_key").on(t.workspaceId, t.key)],
);

/** Requests to remove a mini program (a mini program admin asks, a workspace admin decides). */
export const removalRequests = sqliteTable(
  "removal_requests",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    reason: text("reason").notNull(),
    status: text("status", { enum: ["pending", "approved", "rejected", "withdrawn"] }).notNull(),
    requestedBy: text("requested_by").notNull(),
    requestedAt: integer("requested_at").notNull(),
    decidedBy: text("decided_by"),
    decidedAt: integer("decided_at"),
    decisionReason: text("decision_reason"),
  },
  (t) => [
    uniqueIndex("removal_requests_pending").on(t.miniProgramId).where(sql`${t.status} = 'pending'`),
    index("removal_requests_workspace").on(t.workspaceId, t.requestedAt),
  ],
);

/** The workspace's catalogue of features: named groups of JSAPIs a mini program may call. */
export const features = sqliteTable(
  "features",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    /** Unique in the workspace; what the delivered configuration lists. */
    name: text("name").notNull(),
    description: text("description").notNull(),
    jsapis: text("jsapis", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("features_workspace_name").on(t.workspaceId, t.name)],
);

export const miniProgramFeatures = sqliteTable(
  "mini_program_features",
  {
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    featureId: text("feature_id")
      .notNull()
      .references(() => features.id),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.miniProgramId, t.featureId] }),
    index("mini_program_features_feature").on(t.featureId),
  ],
);

export const miniProgramMembers = sqliteTable(
  "mini_program_members",
  {
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    memberId: text("member_id")
      .notNull()
      .references(() => members.id),
    role: text("role", { enum: ["admin", "developer"] }).notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.miniProgramId, t.memberId] })],
);

export const versions = sqliteTable(
  "versions",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    version: text("version").notNull(),
    /** Hex sha256 of the package bytes: the R2 key and the download URL. */
    sha256: text("sha256").notNull(),
    size: integer("size").notNull(),
    fileCount: integer("file_count").notNull(),
    /** Hex sha256 of the canonical manifest text (served at /v1/packages/<it>); null: uploaded before it was kept. */
    manifestSha256: text("manifest_sha256"),
    /** Host app versions this version runs on (semver range, `*` for any). */
    compat: text("compat").notNull(),
    defaultUpdateMode: text("default_update_mode", { enum: UPDATE_MODES }).notNull(),
    releaseNote: text("release_note").notNull(),
    publisherSignature: text("publisher_signature"),
    publisherKeyId: text("publisher_key_id"),
    uploadedBy: text("uploaded_by").notNull(),
    createdAt: integer("created_at").notNull(),
    deletedAt: integer("deleted_at"),
  },
  (t) => [
    uniqueIndex("versions_mini_program_version").on(t.miniProgramId, t.version),
    index("versions_sha256").on(t.sha256),
  ],
);

export const releases = sqliteTable(
  "releases",
  {
    id: text("id").primaryKey(),
    versionId: text("version_id")
      .notNull()
      .references(() => versions.id),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id),
    environmentId: text("environment_id")
      .notNull()
      .references(() => environments.id),
    /** Per-target sequence, assigned at creation; only grows (a rollback release gets a newer one). */
    seq: integer("seq").notNull(),
    status: text("status", { enum: RELEASE_STATUSES }).notNull(),
    pausedFrom: text("paused_from", { enum: ["canary", "full"] }),
    wentFull: integer("went_full", { mode: "boolean" }).notNull().default(false),
    rollback: integer("rollback", { mode: "boolean" }).notNull().default(false),
    updateMode: text("update_mode", { enum: UPDATE_MODES }).notNull(),
    config: text("config", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** Canary targeting (allowlists, filters, percentage, time window); null until configured. */
    targeting: text("targeting", { mode: "json" }).$type<Record<string, unknown>>(),
    reviewReason: text("review_reason"),
    /** The member who last submitted it for review (approving it yourself needs the workspace setting). */
    submittedBy: text("submitted_by"),
    /** sha256 of domain/approval.ts approvalContent at approval; null unless approved (or live after it). */
    approvedHash: text("approved_hash"),
    /** Whether preview (test QR codes) is limited to the configuration's internal testers' user ids. */
    previewTestersOnly: integer("preview_testers_only", { mode: "boolean" }).notNull().default(false),
    /** The canary's health gate (docs/statistics.md), or null: none. */
    healthPolicy: text("health_policy", { mode: "json" }).$type<Record<string, unknown>>(),
    /**
     * With a health gate, how many steps of the phased ramp its monitor has committed (a step takes
     * effect only once committed, after the gate was judged healthy); unused without a gate.
     */
    rampCommitted: integer("ramp_committed").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    rowVersion: integer("row_version").notNull().default(1),
  },
  (t) => [
    // At most one open release per version and target; an ended, archived or cancelled one does
    // not block releasing the same version again (e.g. rolling back to it).
    uniqueIndex("releases_version_environment_open")
      .on(t.versionId, t.environmentId)
      .where(sql`${t.status} not in ('ended', 'archived', 'cancelled')`),
    uniqueIndex("releases_environment_seq").on(t.environmentId, t.seq),
    index("releases_mini_program").on(t.miniProgramId),
  ],
);

/**
 * Incremental patches between two versions of a mini program (docs/patches.md): one row per
 * (base, target, format), made `pending` when the target goes out, `ready` once the bytes are stored
 * (content-addressed under `sha256`, beside the packages), `failed` after the job's last retry (its
 * dead letter), `skipped` when a package is too large to patch within a job's memory.
 */
export const patches = sqliteTable(
  "patches",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    baseVersionId: text("base_version_id")
      .notNull()
      .references(() => versions.id),
    targetVersionId: text("target_version_id")
      .notNull()
      .references(() => versions.id),
    format: text("format").notNull(),
    status: text("status", { enum: ["pending", "ready", "failed", "skipped"] }).notNull(),
    /** Hex sha256 of the patch bytes (their R2 key and download URL); null until ready. */
    sha256: text("sha256"),
    size: integer("size"),
    /** Delivery attempts the job has had (Queue attempts, counted by the consumer). */
    attempts: integer("attempts").notNull().default(0),
    /** Why the last attempt failed or the patch was skipped; null otherwise. */
    error: text("error"),
    /** Measured by the job that built it: wall time (ms) and the zstd module's linear memory (bytes). */
    buildMs: integer("build_ms"),
    memoryBytes: integer("memory_bytes"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("patches_pair").on(t.baseVersionId, t.targetVersionId, t.format),
    index("patches_target").on(t.targetVersionId),
    index("patches_mini_program").on(t.miniProgramId),
  ],
);

/** Test QR codes of a release (docs/preview.md): each carries a signed, expiring preview link. */
export const qrCodes = sqliteTable(
  "qr_codes",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    releaseId: text("release_id")
      .notNull()
      .references(() => releases.id),
    kind: text("kind", { enum: ["default", "custom"] }).notNull(),
    /** The page the mini program opens on ("" for its home page). */
    pagePath: text("page_path").notNull(),
    query: text("query", { mode: "json" }).$type<Record<string, string>>().notNull(),
    /** How long each link minted for this code stays valid, in seconds. */
    ttlSeconds: integer("ttl_seconds").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("qr_codes_release").on(t.releaseId),
    uniqueIndex("qr_codes_release_default").on(t.releaseId).where(sql`${t.kind} = 'default'`),
  ],
);

export const auditLogs = sqliteTable(
  "audit_logs",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id").notNull(),
    actorMemberId: text("actor_member_id").notNull(),
    actorTokenId: text("actor_token_id").notNull(),
    action: text("action").notNull(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    before: text("before", { mode: "json" }),
    after: text("after", { mode: "json" }),
    requestId: text("request_id").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("audit_logs_workspace_created").on(t.workspaceId, t.createdAt),
    index("audit_logs_workspace_actor").on(t.workspaceId, t.actorMemberId, t.createdAt),
    index("audit_logs_workspace_resource").on(t.workspaceId, t.resourceId, t.createdAt),
  ],
);

export const allowlists = sqliteTable(
  "allowlists",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    /** What the entries are: user ids or device ids. */
    kind: text("kind", { enum: ["user", "device"] }).notNull(),
    /** Grows with every upload (for people); the content itself is named by `contentKey`. */
    contentVersion: integer("content_version").notNull().default(0),
    /** Random name of the immutable source object and shard set of the current content ("" when empty). */
    contentKey: text("content_key").notNull().default(""),
    exactCount: integer("exact_count").notNull().default(0),
    shardCount: integer("shard_count").notNull().default(1),
    /** Regex entries (at most 100), kept here because the check path compiles them from the snapshot. */
    regexEntries: text("regex_entries", { mode: "json" }).$type<string[]>().notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    rowVersion: integer("row_version").notNull().default(1),
  },
  (t) => [uniqueIndex("allowlists_workspace_name").on(t.workspaceId, t.name)],
);

/**
 * Hourly statistics of a release (docs/statistics.md), rolled up by its monitor (a Durable Object that
 * holds the live counts): one row per hour and metric, with the hour's distinct devices as a
 * serialized HyperLogLog. No foreign key: deleting a release deletes its rows.
 */
export const releaseStatsHourly = sqliteTable(
  "release_stats_hourly",
  {
    releaseId: text("release_id").notNull(),
    hour: integer("hour").notNull(),
    metric: text("metric").notNull(),
    count: integer("count").notNull(),
    devices: blob("devices", { mode: "buffer" }),
  },
  (t) => [primaryKey({ columns: [t.releaseId, t.hour, t.metric] })],
);

/** A workspace's webhook (docs/statistics.md): where health-gate notices are posted, signed with its secret. */
export const webhooks = sqliteTable("webhooks", {
  workspaceId: text("workspace_id")
    .primaryKey()
    .references(() => workspaces.id),
  url: text("url").notNull(),
  /** HMAC-SHA256 key of the signature header (shown once, at creation). */
  secret: text("secret").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Each notice sent (or being sent) to a workspace's webhook, with its attempts. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    event: text("event").notNull(),
    /** The exact JSON body posted (signed as sent). */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** The last attempt's HTTP status, or null (no answer). */
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("webhook_deliveries_workspace").on(t.workspaceId, t.createdAt)],
);
