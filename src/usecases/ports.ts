import type { SnapshotSource, SourceMiniProgram } from "../domain/compile-snapshot";
import type {
  BucketIndex,
  CompiledPart,
  DeliveryChange,
  DeliveryHead,
  DeliveryPart,
  RegexSummary,
} from "../domain/delivery";
import type { Geo, ParsedUserAgent } from "../domain/device-profile";
import type { ManifestFile, PackageLimits } from "../domain/package";
import type { Actor } from "../domain/permissions";
import type { PreviewClaims } from "../domain/preview";
import type { ReleaseStatus } from "../domain/release-status";
import type { ServiceKeys } from "../domain/service-keys";
import type { SnapshotList, SnapshotMiniProgram } from "../domain/snapshot";
import type { BucketKey } from "../domain/targeting/bucket";
import type { Admission } from "../domain/targeting/evaluate";
import type { DeviceProfile } from "../domain/targeting/rules";
import type { MiniProgramOrigin, MiniProgramType, UpdateMode } from "../domain/update-mode";
import type { AccessStore, AuthThrottle, MiniProgramMemberRecord } from "./access-ports";
import type { AudienceMonitors, ReleaseAddresses, ReleaseMonitors } from "./ingest-stats";
import type { PatchQueue, PatchStore } from "./patch-ports";
import type { EventsPorts } from "./record-events";
import type { StatsStore } from "./stats-ports";
import type { WebhookPorts, WebhookStore } from "./webhook-ports";

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface Ids {
  /** A prefixed random id such as `rel_3kq…`. */
  id(prefix: string): string;
  /** A new API token secret (`upd_…`), 160 bits of randomness. */
  token(): string;
  /** A new invite secret (`updi_…`), 160 bits of randomness. */
  invite(): string;
}

export interface Hasher {
  sha256Hex(data: Uint8Array | string): Promise<string>;
}

/** Reads a zip into its file manifest; throws AppError INVALID_PACKAGE / PAYLOAD_TOO_LARGE. */
export interface PackageReader {
  manifest(bytes: Uint8Array, limits: PackageLimits): Promise<ManifestFile[]>;
  /** The manifest and the files with their bytes, in manifest order, after the same checks as `manifest`. */
  contents(
    bytes: Uint8Array,
    limits: PackageLimits,
  ): Promise<{ manifest: ManifestFile[]; files: { path: string; bytes: Uint8Array }[] }>;
}

export interface StoredObject {
  body: ReadableStream | null;
  size: number;
  /** The stored media type (`application/zip` for packages, `text/plain; charset=utf-8` for manifests). */
  contentType?: string;
  /** Present when a byte range was served. */
  range?: { offset: number; length: number };
}

export interface PackageStore {
  /**
   * Stores bytes under their sha256, create-only: existing bytes are never overwritten. True when
   * this call created them.
   */
  putIfAbsent(sha256: string, bytes: Uint8Array): Promise<boolean>;
  /** Removes bytes and manifest (an upload that created them and then lost; see uploadVersion). */
  remove(sha256: string): Promise<void>;
  putManifest(sha256: string, files: ManifestFile[]): Promise<void>;
  getManifest(sha256: string): Promise<ManifestFile[] | null>;
  /** Stores a text document under the sha256 of its UTF-8 bytes, create-only, served like package bytes. */
  putText(sha256: string, text: string): Promise<void>;
  /** Stores patch bytes under their sha256, create-only, served like package bytes. */
  putPatch(sha256: string, bytes: Uint8Array): Promise<void>;
  /** The object's size and media type, or null when absent. */
  head(sha256: string): Promise<{ size: number; contentType: string } | null>;
  /** The bytes, or a range of them; null when absent. */
  get(sha256: string, range?: { offset: number; length: number }): Promise<StoredObject | null>;
}

/** A value read from storage, with the bytes that were transferred for it. */
export interface Fetched<T> {
  value: T;
  bytes: number;
}

/**
 * Where a target's delivery state is stored (edge/delivery-store.ts): parts, bucket indexes and the
 * head. Every read has a time limit and rejects when it passes it.
 */
export interface DeliveryStore {
  /** Stores one part, immutable under (key, version); the head must not name it before this returns. */
  putPart(appKey: string, env: string, key: string, version: number, json: string): Promise<void>;
  /** Applies a change to the target's head (never going back to older parts or lists). */
  publish(appKey: string, env: string, change: DeliveryChange): Promise<DeliveryHead>;
  /** The highest part version the target's head ever named (0: none). */
  ceiling(appKey: string, env: string): Promise<number>;
  /** The current head, at most a second or so old (null: nothing was ever published there). */
  head(appKey: string, env: string): Promise<Fetched<DeliveryHead | null>>;
  /** A bucket index, at least as new as `version`. */
  bucket(appKey: string, env: string, bucket: number, version: number): Promise<Fetched<BucketIndex>>;
  /** A part; null when it is not stored (the head named a part that is missing: a fault). */
  part(appKey: string, env: string, key: string, version: number): Promise<Fetched<DeliveryPart> | null>;
}

/** What a check needs of a target besides the asked mini programs' state. */
export interface DeliveryView {
  /** The head version this view is of (grows with every published change of the target). */
  version: number;
  /** The lists the live canaries of the target refer to. */
  lists: Record<string, SnapshotList>;
  /** Whether a canary rule of an asked mini program reads the device's geography. */
  geography: boolean;
  /**
   * The state is older than the maximum age served while the store is unreachable: canary releases
   * are withheld (full and rollback releases are still delivered).
   */
  withholdCanaries: boolean;
}

/** The isolate's view of delivery state (edge/delivery-cache.ts), read by the check path. */
export interface Delivery {
  /**
   * Fills `out` with the asked mini programs' state when the isolate holds all of it, current, and
   * can answer without awaiting: the view (null: no such target), else undefined.
   */
  peek(
    appKey: string,
    env: string,
    asked: readonly { id: string }[],
    out: (SnapshotMiniProgram | undefined)[],
  ): DeliveryView | null | undefined;
  /**
   * Fetches what is missing or changed, then fills `out` (null: no such target). Throws
   * AppError SERVICE_UNAVAILABLE when the state cannot be read and the isolate holds no usable copy,
   * or when the check asks for more than one check may fetch (Retry-After: what was fetched stays).
   * `defer` keeps a background refresh alive after the response (the runtime's waitUntil).
   */
  load(
    appKey: string,
    env: string,
    asked: readonly { id: string }[],
    out: (SnapshotMiniProgram | undefined)[],
    defer?: (work: Promise<unknown>) => void,
  ): Promise<DeliveryView | null>;
  /** The highest part version the target's head ever named: a rebuild must publish above it. */
  ceiling(appKey: string, env: string): Promise<number>;
  /** Writes the compiled parts, publishes the change and takes it into this isolate at once. */
  publish(appKey: string, env: string, parts: readonly CompiledPart[], change: DeliveryChange): Promise<PublishStats>;
}

export interface PublishStats {
  /** Parts written. */
  parts: number;
  /** Bytes written: the parts (to both stores) and the change sent to the head. */
  bytesWritten: number;
  head: DeliveryHead;
}

export interface Signer {
  readonly keyId: string;
  /** base64url Ed25519 signature of `bytes` (the exact body sent). */
  sign(bytes: Uint8Array): Promise<string>;
  /** base64url raw public key. */
  publicKey(): string;
}

/**
 * Preview tokens (docs/preview.md): `<codeId>.<expiresAt base36>.<hash>.<mac>`, the mac a truncated
 * HMAC-SHA256 under a key derived from the service signing key. Verification is synchronous: it runs
 * on the check path, only for a mini program that carries a token.
 */
export interface PreviewTokens {
  mint(claims: PreviewClaims): string;
  /** The claims of a token this service minted, or null (malformed, or not ours). Expiry is not judged here. */
  verify(token: string): PreviewClaims | null;
}

/** An audit record, written in the same batch as the change it describes. */
export interface AuditEntry {
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

export interface AppRecord {
  id: string;
  workspaceId: string;
  key: string;
  name: string;
  platforms: string[];
  createdAt: number;
  /** Set when deleted: the row stays so its key is never reused (docs/overview.md). */
  deletedAt: number | null;
}

export interface EnvironmentRecord {
  id: string;
  appId: string;
  name: string;
  snapshotVersion: number;
  createdAt: number;
  deletedAt: number | null;
}

export interface MiniProgramRecord extends SourceMiniProgram {
  workspaceId: string;
  names: Record<string, string>;
  descriptions: Record<string, string>;
  /** An https URL of its icon, or null. */
  icon: string | null;
  category: string | null;
  /** The member who created it (null: created before this was recorded). */
  createdBy: string | null;
  /** When its removal was approved (docs/overview.md, "Removing a mini program"); null while it exists. */
  removedAt: number | null;
  defaultUpdateMode: UpdateMode;
  createdAt: number;
  updatedAt: number;
  rowVersion: number;
  type: MiniProgramType;
  origin: MiniProgramOrigin;
}

export interface VersionRecord {
  id: string;
  miniProgramId: string;
  version: string;
  sha256: string;
  size: number;
  fileCount: number;
  /** Hex sha256 of the version's canonical manifest text (content-addressed beside the package); null before 0006. */
  manifestSha256: string | null;
  compat: string;
  defaultUpdateMode: UpdateMode;
  releaseNote: string;
  publisherSignature: string | null;
  publisherKeyId: string | null;
  uploadedBy: string;
  createdAt: number;
  deletedAt: number | null;
}

export interface ReleaseRecord {
  id: string;
  versionId: string;
  miniProgramId: string;
  appId: string;
  environmentId: string;
  seq: number;
  status: ReleaseStatus;
  pausedFrom: "canary" | "full" | null;
  wentFull: boolean;
  rollback: boolean;
  updateMode: UpdateMode;
  config: Record<string, unknown>;
  targeting: Record<string, unknown> | null;
  reviewReason: string | null;
  submittedBy: string | null;
  approvedHash: string | null;
  /** Preview (test QR codes) limited to the configuration's internal testers' user ids. */
  previewTestersOnly: boolean;
  /** The canary's health gate (docs/statistics.md), or null. */
  healthPolicy?: Record<string, unknown> | null;
  /** With a health gate: the ramp steps its monitor has committed. */
  rampCommitted?: number;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  rowVersion: number;
}

/** A request to remove a mini program (docs/overview.md, "Removing a mini program"). */
export interface RemovalRequestRecord {
  id: string;
  workspaceId: string;
  miniProgramId: string;
  reason: string;
  status: "pending" | "approved" | "rejected" | "withdrawn";
  requestedBy: string;
  requestedAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  decisionReason: string | null;
}

export type RemovalDecision = Pick<RemovalRequestRecord, "decidedBy" | "decidedAt" | "decisionReason"> & {
  decidedAt: number;
};

/** An Ed25519 public key a publisher signs packages with (docs/publishing.md). */
export interface PublisherKeyRecord {
  id: string;
  workspaceId: string;
  /** First 16 hex digits of the sha256 of the raw key: what uploads name it by. */
  keyId: string;
  name: string;
  /** Raw 32-byte public key, base64url. */
  publicKey: string;
  createdBy: string;
  createdAt: number;
  revokedAt: number | null;
  revokedBy: string | null;
}

/** A feature of the workspace catalogue: a named group of JSAPIs. */
export interface FeatureRecord {
  id: string;
  workspaceId: string;
  name: string;
  description: string;
  jsapis: string[];
  createdAt: number;
  updatedAt: number;
}

/** A test QR code of a release (docs/preview.md). */
export interface QrCodeRecord {
  id: string;
  workspaceId: string;
  releaseId: string;
  kind: "default" | "custom";
  pagePath: string;
  query: Record<string, string>;
  ttlSeconds: number;
  createdBy: string;
  createdAt: number;
}

/** A release with the names people know it by. */
export interface ReleaseDetails extends ReleaseRecord {
  /** The mini program's key (what devices send). */
  miniProgramKey: string;
  /** The version string (`1.2.0`). */
  version: string;
  appKey: string;
  /** The environment's name. */
  env: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Outcome of a write that can lose to a uniqueness constraint or a concurrent writer. */
export type WriteResult = "ok" | "conflict";

/**
 * An environment's snapshot version as assertSnapshotFits read it, together with the state it
 * measured. A write given one is a compare-and-swap on it as well: it changes nothing ("conflict")
 * once any other change affecting that environment's delivery has been committed since the read.
 */
export interface MeasuredEnvironment {
  environmentId: string;
  snapshotVersion: number;
}

export interface Store extends AccessStore, PatchStore, StatsStore, WebhookStore {
  createApp(app: AppRecord, envs: EnvironmentRecord[], audit: AuditEntry): Promise<WriteResult>;
  listApps(workspaceId: string): Promise<AppRecord[]>;
  getApp(workspaceId: string, appId: string): Promise<AppRecord | null>;
  createEnvironment(env: EnvironmentRecord, audit: AuditEntry): Promise<WriteResult>;
  listEnvironments(appId: string): Promise<EnvironmentRecord[]>;
  getEnvironment(appId: string, name: string): Promise<EnvironmentRecord | null>;

  /** Inserts the mini program and, when given, its creator's mini program role. */
  createMiniProgram(
    mp: MiniProgramRecord,
    audit: AuditEntry,
    creator?: MiniProgramMemberRecord | null,
  ): Promise<WriteResult>;
  listMiniPrograms(workspaceId: string): Promise<MiniProgramRecord[]>;
  /**
   * Compare-and-swap on the mini program's row version (and the snapshot versions of `measured`):
   * stores `next`, bumps the snapshot version of every environment where it is released, audits.
   */
  updateMiniProgram(
    mp: MiniProgramRecord,
    next: MiniProgramRecord,
    audit: AuditEntry,
    measured: readonly MeasuredEnvironment[],
  ): Promise<WriteResult>;
  getMiniProgram(workspaceId: string, miniProgramId: string): Promise<MiniProgramRecord | null>;

  findVersion(miniProgramId: string, version: string): Promise<VersionRecord | null>;
  /** The environments where the mini program has releases (any status): their snapshots list its versions. */
  environmentIdsReleasing(miniProgramId: string): Promise<string[]>;
  /** Whether a version that is not deleted, of any mini program, has these package bytes. */
  packageReferenced(sha256: string): Promise<boolean>;
  /**
   * Marks the version deleted (audited, the snapshot version of every environment releasing its mini
   * program bumped): "in_use" while a release of it is canary, full or paused; "conflict" when it
   * was deleted meanwhile.
   */
  deleteVersion(version: VersionRecord, now: number, audit: AuditEntry): Promise<"ok" | "in_use" | "conflict">;
  /** Whether any version, of any mini program, deleted or not, has these package bytes. */
  packageInUse(sha256: string): Promise<boolean>;
  getVersion(versionId: string): Promise<VersionRecord | null>;
  /** Inserts the version with its audit row and bumps the snapshot version of environmentIdsReleasing. */
  createVersion(version: VersionRecord, audit: AuditEntry): Promise<WriteResult>;
  /**
   * Records the manifest hash of a version uploaded before manifests were kept (null so far; a set
   * one is never changed) and marks the environments releasing its mini program for a rebuild.
   */
  setVersionManifest(version: VersionRecord, manifestSha256: string): Promise<void>;
  listVersions(miniProgramId: string): Promise<VersionRecord[]>;

  /**
   * Inserts with the next per-target sequence, with its default test QR code when given; conflict
   * when the version already has a release there; "environment_deleted" or "removed" (nothing
   * written) when the environment was deleted or the mini program removed meanwhile.
   */
  createRelease(
    release: Omit<ReleaseRecord, "seq">,
    audit: AuditEntry,
    defaultCode?: QrCodeRecord,
  ): Promise<ReleaseRecord | "conflict" | "environment_deleted" | "removed">;

  /** Inserts a pending request while the mini program is not removed ("removed"); "conflict": one is pending. */
  createRemovalRequest(request: RemovalRequestRecord, audit: AuditEntry): Promise<"ok" | "conflict" | "removed">;
  listRemovalRequests(workspaceId: string, miniProgramId?: string): Promise<RemovalRequestRecord[]>;
  getRemovalRequest(workspaceId: string, id: string): Promise<RemovalRequestRecord | null>;
  /** Rejects or withdraws a pending request (audited); "conflict" when it is no longer pending. */
  closeRemoval(
    request: RemovalRequestRecord,
    status: "rejected" | "withdrawn",
    decision: RemovalDecision,
    audit: AuditEntry,
  ): Promise<WriteResult>;
  /**
   * Approves a pending request in one batch: the mini program is marked removed, its live releases
   * end and the others that are open are cancelled (one audit row each), and the snapshot version of
   * every environment where it has releases is bumped. "conflict" when it is no longer pending.
   */
  approveRemoval(request: RemovalRequestRecord, decision: RemovalDecision, audit: AuditEntry): Promise<WriteResult>;

  /** Inserts the key (audited); "conflict" when the workspace already has this key. */
  createPublisherKey(key: PublisherKeyRecord, audit: AuditEntry): Promise<WriteResult>;
  listPublisherKeys(workspaceId: string): Promise<PublisherKeyRecord[]>;
  /** By its id or its keyId. */
  getPublisherKey(workspaceId: string, idOrKeyId: string): Promise<PublisherKeyRecord | null>;
  /** Marks the key revoked (audited); "conflict" when it already was. */
  revokePublisherKey(key: PublisherKeyRecord, by: string, now: number, audit: AuditEntry): Promise<WriteResult>;

  createFeature(feature: FeatureRecord, audit: AuditEntry): Promise<WriteResult>;
  listFeatures(workspaceId: string): Promise<FeatureRecord[]>;
  getFeature(workspaceId: string, idOrName: string): Promise<FeatureRecord | null>;
  /** Deletes it (audited) unless a mini program has it ("in_use"); "conflict" when already gone. */
  deleteFeature(feature: FeatureRecord, audit: AuditEntry): Promise<"ok" | "in_use" | "conflict">;
  listMiniProgramFeatures(miniProgramId: string): Promise<(FeatureRecord & { addedAt: number })[]>;
  /**
   * Adds (or removes) a catalogue feature on a mini program that is not removed, audited, bumping
   * the snapshot version of every environment releasing it; "unchanged" when there was nothing to do.
   */
  setMiniProgramFeature(
    miniProgramId: string,
    featureId: string,
    added: boolean,
    audit: AuditEntry,
    now: number,
  ): Promise<"ok" | "unchanged">;

  /** Marks the app and its environments deleted (audited) unless one has an open release ("in_use"). */
  deleteApp(app: AppRecord, audit: AuditEntry, now: number): Promise<"ok" | "in_use">;
  /** Marks the environment deleted (audited) unless it has an open release ("in_use"). */
  deleteEnvironment(environment: EnvironmentRecord, audit: AuditEntry, now: number): Promise<"ok" | "in_use">;

  listQrCodes(releaseId: string): Promise<QrCodeRecord[]>;
  getQrCode(releaseId: string, codeId: string): Promise<QrCodeRecord | null>;
  /**
   * Inserts the code (audited, the release's target's snapshot version bumped) while the release is
   * still in one of `statuses`: "not_previewable" otherwise, "conflict" when a default code exists.
   */
  createQrCode(
    code: QrCodeRecord,
    release: ReleaseRecord,
    statuses: readonly ReleaseStatus[],
    audit: AuditEntry,
  ): Promise<"ok" | "conflict" | "not_previewable">;
  /** Deletes the code (audited, snapshot version bumped); "conflict" when it was deleted meanwhile. */
  deleteQrCode(code: QrCodeRecord, release: ReleaseRecord, audit: AuditEntry): Promise<WriteResult>;
  getRelease(workspaceId: string, releaseId: string): Promise<ReleaseDetails | null>;
  listReleases(
    workspaceId: string,
    filter: {
      appId?: string;
      environmentId?: string;
      miniProgramId?: string;
      status?: ReleaseStatus;
      version?: string;
    },
  ): Promise<ReleaseDetails[]>;
  /**
   * Compare-and-swap on `rowVersion`: applies `changes`, archives the releases of `archive` that are
   * still full (one audit row each), bumps the target's snapshot version and writes the audit row,
   * all or nothing. "conflict" when the row changed since it was read, or when `measured` is given
   * and the target's snapshot version is no longer the measured one.
   */
  updateReleaseStatus(
    release: ReleaseRecord,
    changes: Pick<
      ReleaseRecord,
      "status" | "pausedFrom" | "wentFull" | "reviewReason" | "submittedBy" | "approvedHash" | "updatedAt"
    >,
    audit: AuditEntry,
    archive?: readonly string[],
    measured?: MeasuredEnvironment | null,
  ): Promise<WriteResult>;

  /**
   * Deletes the release row if it still has the row version read and one of `statuses` (else
   * "conflict"), audited, and bumps its target's snapshot version.
   */
  deleteRelease(release: ReleaseRecord, audit: AuditEntry, statuses: readonly ReleaseStatus[]): Promise<WriteResult>;
  /**
   * Compare-and-swap on the release's row version: its configuration, update mode and preview
   * setting, audited; bumps its target's snapshot version (its previews are delivered).
   */
  updateReleaseSettings(
    release: ReleaseRecord,
    changes: Pick<
      ReleaseRecord,
      "config" | "updateMode" | "previewTestersOnly" | "status" | "approvedHash" | "updatedAt"
    >,
    audit: AuditEntry,
  ): Promise<WriteResult>;

  /**
   * Replaces the release's targeting (compare-and-swap, also on `measured` when given), bumps its
   * target's snapshot version, audits.
   */
  /** Sets or removes a release's health policy with its committed ramp steps, audited; false on a lost race. */
  setHealthPolicy(
    release: ReleaseRecord,
    policy: Record<string, unknown> | null,
    rampCommitted: number,
    updatedAt: number,
    audit: AuditEntry,
  ): Promise<boolean>;
  /** Commits one more ramp step (from `release.rampCommitted`), audited; false when it changed meanwhile. */
  commitRampStep(release: ReleaseRecord, updatedAt: number, audit: AuditEntry): Promise<boolean>;
  updateReleaseTargeting(
    release: ReleaseRecord,
    targeting: Record<string, unknown> | null,
    updatedAt: number,
    audit: AuditEntry,
    measured?: MeasuredEnvironment | null,
    /** Sends an approved release back to `created` (its approval was of other targeting). */
    resetApproval?: boolean,
  ): Promise<WriteResult>;

  createAllowlist(list: AllowlistRecord, audit: AuditEntry): Promise<WriteResult>;
  getAllowlist(workspaceId: string, idOrName: string): Promise<AllowlistRecord | null>;
  listAllowlists(workspaceId: string): Promise<AllowlistRecord[]>;
  /**
   * Compare-and-swap on the list's row version. With `measured`, also on the environments: "conflict"
   * unless every environment of the workspace is in `measured` with its snapshot version unchanged
   * (an environment created since the measurement is a conflict too).
   */
  updateAllowlistContent(
    list: AllowlistRecord,
    changes: Pick<
      AllowlistRecord,
      "contentVersion" | "contentKey" | "exactCount" | "shardCount" | "regexEntries" | "updatedAt"
    >,
    audit: AuditEntry,
    measured?: readonly MeasuredEnvironment[] | null,
  ): Promise<WriteResult>;
  environmentIdsOfWorkspace(workspaceId: string): Promise<string[]>;
  /**
   * Deletes the list row (compare-and-swap on its row version), audited: "in_use" while a release
   * that is not ended, archived or cancelled refers to it in its allowlists or denylists.
   */
  deleteAllowlist(list: AllowlistRecord, audit: AuditEntry): Promise<"ok" | "in_use" | "conflict">;
  /** Writes an audit record of a change made outside D1 (a delivery rebuild). */
  recordAudit(audit: AuditEntry): Promise<void>;
  /** Raises the environment's snapshot version to at least `atLeast` (after a restore took it back). */
  raiseSnapshotVersion(environmentId: string, atLeast: number): Promise<void>;

  /**
   * The relational state a target's delivery is compiled from, in one consistent read: of the mini
   * programs `miniProgramIds` (all when omitted) that have releases there.
   */
  snapshotSource(
    environmentId: string,
    builtAt: number,
    miniProgramIds?: readonly string[],
  ): Promise<SnapshotSource | null>;
  /**
   * What the bounds measure, in one consistent read: the state of one mini program on the environment
   * (none: only the lists), and the distinct regex rules and list ids of the live canary releases of
   * every other mini program there.
   */
  measureSource(
    environmentId: string,
    builtAt: number,
    miniProgramId: string | null,
  ): Promise<{ source: SnapshotSource; others: RegexSummary } | null>;
  /** The targets (app key, environment name) where a live canary release refers to the list. */
  targetsUsingList(workspaceId: string, listId: string): Promise<{ appKey: string; env: string }[]>;
}

/** Everything a use case may touch, built once per request by the composition root. */
export interface Deps {
  clock: Clock;
  ids: Ids;
  hasher: Hasher;
  store: Store;
  throttle: AuthThrottle;
  packages: PackageStore;
  reader: PackageReader;
  delivery: Delivery;
  signer: Signer | null;
  /**
   * The verification keys `GET /v1/keys` publishes and the key set version answers name (from
   * SIGNING_KEYSET, read on first use and kept), or a sentence saying why the setting is unusable.
   */
  serviceKeys(): ServiceKeys | string;
  /** Mints and verifies preview tokens (test QR codes); null without a signing key. */
  previews: PreviewTokens | null;
  /** Ed25519 verification of a publisher's signature (raw public key and signature, base64url). */
  verifyEd25519(publicKey: string, message: Uint8Array, signature: string): boolean;
  /** Draws a text (a test QR code's link) as a QR code image; `scale` is pixels per module. */
  qrImages: {
    svg(text: string, scale: number): string;
    png(text: string, scale: number): Promise<Uint8Array<ArrayBuffer>>;
  };
  lists: ListContentStore;
  admissions: AdmissionGate;
  parseUserAgent(ua: string | null): ParsedUserAgent | null;
  /** Geography from the platform's request metadata (`request.cf`); null when unknown. */
  geoFromCf(cf: unknown): Geo | null;
  /** The per-deployment secret key of percentage bucketing (16 bytes), or null when not configured. */
  bucketKey: BucketKey | null;
  /** Base of package URLs in manifests (`…/v1/packages`, a CDN), or null: the check request's origin. */
  packageBaseUrl: string | null;
  /** The isolate's one memory budget for caches (edge/memory-budget.ts), for reports. */
  memory: { readonly limit: number; used(): number; report(): Record<string, number> };
  /** Incremental patches (docs/patches.md). */
  patches: PatchSettings;
  /** Device events (POST /v1/events, docs/statistics.md). */
  events: EventsPorts;
  /** CSRF tokens of console sessions (docs/console.md), keyed by a deployment secret. */
  consoleKeys: { csrf(session: string): string; verify(session: string, given: string): boolean };
  /** Records what checks offer and report (docs/statistics.md); null when statistics are off. */
  checks: CheckObserver | null;
  /** Release statistics: where releases are delivered (cached) and their monitors. */
  stats: { addresses: ReleaseAddresses; monitors: ReleaseMonitors; audiences: AudienceMonitors };
  /** Workspace webhooks (docs/webhooks.md): their Queue, the signed POST and the retry base. */
  webhooks: WebhookPorts;
  /** `maxPartBytes`: the largest delivery part (one mini program on one target), as stored JSON. */
  limits: { maxPackageBytes: number; maxPartBytes: number } & PackageLimits;
}

/** The isolate's recorder of checks (edge/stats-recorder.ts CheckRecorder). */
export interface CheckObserver {
  observe(
    appKey: string,
    env: string,
    deviceId: string,
    userId: string | null,
    profile: DeviceProfile,
    asked: readonly { id: string; version: string | null }[],
    offered: readonly string[],
    now: number,
  ): Promise<void> | null;
}

/** What incremental patches need besides the store: the Queue, the codec and the settings. */
export interface PatchSettings {
  /** Null when the deployment has no patch Queue bound: nothing is built, devices get full packages. */
  queue: PatchQueue | null;
  /** How many previously delivered versions of a target get a patch to a version going out there. */
  bases: number;
  /** Largest patch offered, as a fraction of the package's size. */
  maxRatio: number;
  /** Largest package, uncompressed, a job patches from or to (bytes); larger ones are skipped. */
  maxInputBytes: number;
  /** Delay before a failed job's first retry (seconds), doubled at each further one. */
  retrySeconds: number;
  /** The isolate's zstd (WebAssembly), instantiated on first use. */
  codec(): Promise<PatchCodec>;
}

/** zstd with raw-content dictionaries, as the patch format uses it (edge/zstd.ts). */
export interface PatchCodec {
  compress(data: Uint8Array, dict: Uint8Array): Uint8Array;
  decompress(frame: Uint8Array, dict: Uint8Array, size: number): Uint8Array;
  /** Linear memory the codec holds (bytes): what a job's peak memory is measured by, with its inputs. */
  memoryBytes(): number;
}

/** Who is acting and under which request id: passed to every admin use case. */
export interface Context {
  actor: Actor;
  requestId: string;
}

/** The time-window admission authority's answer for one device. */
export interface AdmissionAnswer {
  admitted: boolean;
  /**
   * True once the admitted set can no longer change (cap reached, or the window has ended):
   * a caller may then remember "not admitted" for this release without asking again.
   */
  closed: boolean;
}

/** Exact, concurrency-safe admission for time-window canaries: one authority per release. */
export interface AdmissionGate {
  /**
   * Admits `deviceId` when `now` lies in [startsAt, endsAt) and fewer than `cap` devices are in;
   * an admitted device stays admitted. Outside the window it only looks up (never admits).
   */
  admit(
    releaseId: string,
    deviceId: string,
    window: { startsAt: number; endsAt: number; cap: number },
    now: number,
  ): Promise<AdmissionAnswer>;
  /** Looks up without admitting (for explain). */
  lookup(releaseId: string, deviceId: string): Promise<AdmissionAnswer>;
  /** How many devices the release's time window admitted, and its cap once fixed (null: nobody asked yet). */
  count?(releaseId: string): Promise<{ admitted: number; cap: number | null }>;
  /**
   * What the gate already knows without asking anyone (an admitted device, or a closed release's
   * final set), or "unknown": a decision that can be made from it needs no await.
   */
  known?(releaseId: string, deviceId: string): Admission;
}

/** Exact-entry membership of one list shard. */
export interface ShardLookup {
  has(id: string): boolean;
}

/** Allowlist contents: the canonical source and its hash-sharded form, immutable under a random content key. */
export interface ListContentStore {
  putSource(contentKey: string, text: string): Promise<void>;
  getSource(contentKey: string): Promise<string | null>;
  putShards(contentKey: string, shards: readonly string[]): Promise<void>;
  /** Removes a content's source and shards (a deleted list's entries). */
  removeContent(contentKey: string, shardCount: number): Promise<void>;
  /** Membership in one shard (empty when absent). Cached per isolate with a bounded LRU. */
  getShard(contentKey: string, shard: number): Promise<ShardLookup>;
  /** The shard if this isolate already holds it (no I/O, no await), else undefined. */
  cachedShard?(contentKey: string, shard: number): ShardLookup | undefined;
}

export interface AllowlistRecord {
  id: string;
  workspaceId: string;
  name: string;
  kind: "user" | "device";
  contentVersion: number;
  contentKey: string;
  exactCount: number;
  shardCount: number;
  regexEntries: string[];
  createdAt: number;
  updatedAt: number;
  rowVersion: number;
}
