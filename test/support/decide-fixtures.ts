import { EMPTY_CONFIG } from "../../src/domain/config";
import type { Snapshot, SnapshotList, SnapshotRelease } from "../../src/domain/snapshot";
import type { CheckInput } from "../../src/usecases/check-updates";

/** A snapshot release of mini program "mp": canary ones get sequence 2, full ones 1. */
export const snapshotRelease = (version: string, status: "canary" | "full", targeting: unknown): SnapshotRelease => ({
  releaseId: `rel_${version}`,
  version,
  seq: status === "full" ? 1 : 2,
  status,
  rollback: false,
  updateMode: "async",
  compat: "*",
  package: { sha256: "a".repeat(64), size: 1 },
  publisherSignature: null,
  config: EMPTY_CONFIG,
  targeting: targeting as SnapshotRelease["targeting"],
});

/** A check of device "d-1" for app "app" / "prod" that sends nothing about itself; spread to set fields. */
export const checkInput = (over: Partial<CheckInput> = {}): CheckInput => ({
  appId: "app",
  env: "prod",
  deviceId: "d-1",
  userId: null,
  nonce: null,
  appVersion: null,
  platform: null,
  osVersion: null,
  brand: null,
  model: null,
  network: null,
  language: null,
  attributes: {},
  miniPrograms: [{ id: "mp", version: "1.0.0", sha256: null, failed: [] }],
  ...over,
});

/**
 * A snapshot of app "app" / "prod" with one mini program "mp": a canary 1.1.0 with `canaryTargeting`
 * over a full 1.0.0 with `fullTargeting` (never evaluated), knowing `knownVersions`.
 */
export const oneMiniProgramSnapshot = (
  canaryTargeting: unknown,
  fullTargeting: unknown = null,
  {
    knownVersions = ["1.0.0", "1.1.0"],
    lists = {},
  }: { knownVersions?: string[]; lists?: Record<string, SnapshotList> } = {},
): Snapshot => ({
  format: 1,
  appKey: "app",
  env: "prod",
  version: 1,
  builtAt: 0,
  lists,
  miniPrograms: {
    mp: {
      id: "mp",
      type: "dsl",
      origin: "workspace",
      minUsableVersion: null,
      knownVersions,
      syncMilestones: [],
      releases: [snapshotRelease("1.1.0", "canary", canaryTargeting), snapshotRelease("1.0.0", "full", fullTargeting)],
    },
  },
});
