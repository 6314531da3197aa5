import type { SnapshotSource, SourceList, SourceRelease } from "../../src/domain/compile-snapshot";

/** What a test states about one release of the fixture's single version; the rest is fixed. */
export type ReleaseSpec = Pick<SourceRelease, "status" | "targeting"> & Partial<SourceRelease>;

/**
 * The relational state of one (app, environment) as the snapshot compiler reads it: mini program
 * `pay` (mp_1) with version 1.0.0 (v1), the given releases of it (ids r0, r1, … in sequence) and lists.
 */
export function oneVersionSource(releases: ReleaseSpec[], lists: SourceList[] = []): SnapshotSource {
  return {
    appKey: "wallet",
    env: "prod",
    version: 1,
    builtAt: 0,
    miniPrograms: [{ id: "mp_1", key: "pay", type: "dsl", origin: "workspace", minUsableVersion: null, config: {} }],
    versions: [
      {
        id: "v1",
        miniProgramId: "mp_1",
        version: "1.0.0",
        sha256: "a".repeat(64),
        size: 1,
        compat: "*",
        publisherSignature: null,
        deleted: false,
      },
    ],
    lists,
    releases: releases.map((r, i) => ({
      id: `r${i}`,
      versionId: "v1",
      seq: i + 1,
      wentFull: false,
      rollback: false,
      updateMode: "default",
      config: {},
      ...r,
    })),
  };
}
