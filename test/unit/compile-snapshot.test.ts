import { describe, expect, it } from "vitest";
import { compileSnapshot, type SnapshotSource } from "../../src/domain/compile-snapshot";

const source: SnapshotSource = {
  appKey: "wallet",
  env: "prod",
  version: 7,
  builtAt: 123,
  miniPrograms: [
    {
      id: "mp_1",
      key: "pay",
      type: "dsl",
      origin: "workspace",
      minUsableVersion: null,
      config: { networkAllowlist: ["a.test"], switches: { x: "1", y: "1" }, payment: { clientId: "c" } },
    },
  ],
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
    {
      id: "v2",
      miniProgramId: "mp_1",
      version: "1.1.0",
      sha256: "b".repeat(64),
      size: 2,
      compat: "*",
      publisherSignature: null,
      deleted: false,
    },
    {
      id: "v3",
      miniProgramId: "mp_1",
      version: "1.2.0",
      sha256: "c".repeat(64),
      size: 3,
      compat: "*",
      publisherSignature: null,
      deleted: true,
    },
  ],
  lists: [],
  releases: [
    {
      id: "r1",
      versionId: "v1",
      seq: 1,
      status: "archived",
      wentFull: true,
      rollback: false,
      updateMode: "sync",
      config: {},
      targeting: null,
    },
    {
      id: "r2",
      versionId: "v2",
      seq: 2,
      status: "full",
      wentFull: true,
      rollback: false,
      updateMode: "async",
      config: { switches: { y: "2" } },
      targeting: null,
    },
    {
      id: "r3",
      versionId: "v3",
      seq: 3,
      status: "full",
      wentFull: true,
      rollback: false,
      updateMode: "async",
      config: {},
      targeting: null,
    },
    {
      id: "r4",
      versionId: "v1",
      seq: 4,
      status: "created",
      wentFull: false,
      rollback: false,
      updateMode: "async",
      config: {},
      targeting: null,
    },
  ],
};

describe("compileSnapshot", () => {
  const snapshot = compileSnapshot(source);
  const pay = snapshot.miniPrograms.pay;

  it("keeps only live releases of versions that still have bytes, newest first", () => {
    expect(pay?.releases.map((r) => r.releaseId)).toEqual(["r2"]);
  });

  it("merges release configuration over the mini program's global configuration", () => {
    expect(pay?.releases[0]?.config).toEqual({
      networkAllowlist: ["a.test"],
      internalTesters: [],
      payment: { clientId: "c" },
      switches: { x: "1", y: "2" },
      features: [],
    });
  });

  it("records known versions (deleted included) and sync milestones", () => {
    expect(pay?.knownVersions).toEqual(["1.0.0", "1.1.0", "1.2.0"]);
    expect(pay?.syncMilestones).toEqual(["1.0.0"]);
    expect(snapshot.version).toBe(7);
  });

  it("is deterministic", () => {
    expect(compileSnapshot(source)).toEqual(snapshot);
  });
});
