import type { MiniProgramOrigin, MiniProgramType, UpdateMode } from "./update-mode";

/** Configuration delivered with a release: the mini program's global values overridden by the release's. */
export interface DeliveredConfig {
  networkAllowlist: string[];
  internalTesters: string[];
  payment: { clientId?: string; merchantId?: string };
  switches: Record<string, string>;
  features: string[];
}

/** One live release as the check path needs it. Built when something is published, never per request. */
export interface SnapshotRelease {
  releaseId: string;
  version: string;
  /** Per-target release sequence: grows with every release created on the (app, environment). */
  seq: number;
  /** `preview`: a release that is not live, delivered only to devices with a valid preview token. */
  status: "canary" | "full" | "preview";
  rollback: boolean;
  updateMode: UpdateMode;
  /** Host app version range (semver) the version is compatible with. */
  compat: string;
  /** `manifestSha256`: of the canonical manifest text; absent or null for versions uploaded before it was kept. */
  package: { sha256: string; size: number; manifestSha256?: string | null };
  /** The publisher's signature of the package sha256, or null when the version was uploaded unsigned. */
  publisherSignature: string | null;
  /** The publisher key id that signature verifies with (docs/publishing.md); absent or null when unsigned. */
  publisherKeyId?: string | null;
  config: DeliveredConfig;
  /** Canary targeting as validated at save time (compileTargeting input); null for none. */
  targeting: Record<string, unknown> | null;
  /** Ready incremental patches to this release's package, by base (absent: none; docs/patches.md). */
  patches?: SnapshotPatch[];
}

/** An incremental patch a device on `baseVersion` with package `base` may download instead of the package. */
export interface SnapshotPatch {
  /** sha256 of the base package (what the device reports as installed). */
  base: string;
  baseVersion: string;
  format: string;
  /** sha256 and size of the patch bytes (served at the package URL base like packages). */
  sha256: string;
  size: number;
}

/** What the check path needs to look a device up in one allowlist (contents are sharded in KV). */
export interface SnapshotList {
  kind: "user" | "device";
  /** Names the immutable shard set of the current content ("" when the list is empty). */
  contentKey: string;
  shardCount: number;
  /** Regex entries, compiled once per isolate. */
  regex: string[];
}

export interface SnapshotMiniProgram {
  id: string;
  type: MiniProgramType;
  origin: MiniProgramOrigin;
  minUsableVersion: string | null;
  /** Every version ever uploaded (deleted ones included): an installed version outside it is unknown. */
  knownVersions: string[];
  /** Versions whose release went out fully as `sync`: mandatory for devices that skip over them. */
  syncMilestones: string[];
  /** Live releases, newest sequence first. */
  releases: SnapshotRelease[];
  /** Releases a test QR code may preview (created, in review or approved, with a code); absent: none. */
  previews?: SnapshotPreview[];
  /** Set once the mini program was removed: devices that have it are told to delete it. */
  removed?: true;
}

/** A release that devices presenting a valid preview token get (docs/preview.md). */
export interface SnapshotPreview {
  release: SnapshotRelease;
  /** First 32 hex digits of the release's content hash: a token minted for other content is stale. */
  hash: string;
  /** Ids of the release's test QR codes: a deleted code's tokens are no longer honoured. */
  codes: string[];
  /** When preview is limited to internal testers: their user ids; null: anyone with the token. */
  testers: string[] | null;
}

/**
 * The snapshot's mini program under the id a device sent, or undefined. Only own entries count: an
 * id such as `constructor` or `toString` names a member of every JavaScript object, not a mini program.
 */
export function miniProgramOf(snapshot: Snapshot, id: string): SnapshotMiniProgram | undefined {
  return Object.hasOwn(snapshot.miniPrograms, id) ? snapshot.miniPrograms[id] : undefined;
}

/**
 * The compiled, immutable delivery state of one (app, environment). `version` grows with every
 * change, so a reader keeps whichever copy has the larger one.
 */
export interface Snapshot {
  format: 1;
  appKey: string;
  env: string;
  version: number;
  builtAt: number;
  /** Mini programs by their public key (the id devices send). */
  miniPrograms: Record<string, SnapshotMiniProgram>;
  /** Allowlists of the workspace by id. */
  lists: Record<string, SnapshotList>;
}
