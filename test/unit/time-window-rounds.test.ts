// A mini program with several live time-window canaries: one check settles every admission it needs,
// highest version first, asking the authority once per release (no cap on settling rounds leaves a
// device "none" while a lower window it is admitted to is still open).
import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/domain/decide";
import type { Snapshot } from "../../src/domain/snapshot";
import { bucketKeyFromHex } from "../../src/domain/targeting/bucket";
import { decideAll } from "../../src/usecases/check-updates";
import type { AdmissionAnswer, Deps } from "../../src/usecases/ports";
import { checkInput, snapshotRelease } from "../support/decide-fixtures";
import { memoryDelivery } from "../support/memory-delivery";

const VERSIONS = ["1.6.0", "1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0"];
const window = { timeWindow: { startsAt: 0, endsAt: 10_000, cap: 10 } };

/** Six live time-window canaries (newest sequence first), every window open at the check's time. */
const sixWindows: Snapshot = {
  format: 1,
  appKey: "app",
  env: "prod",
  version: 1,
  builtAt: 0,
  lists: {},
  miniPrograms: {
    mp: {
      id: "mp",
      type: "dsl",
      origin: "workspace",
      minUsableVersion: null,
      knownVersions: ["1.0.0", ...VERSIONS],
      syncMilestones: [],
      releases: VERSIONS.map((v, i) => ({ ...snapshotRelease(v, "canary", window), seq: 10 - i })),
    },
  },
};

const failing = async (): Promise<never> => {
  throw new Error("not expected");
};

/** Deps whose admission authority admits the device only to `admittedTo`, recording every call. */
function depsAdmittingTo(admittedTo: string | null) {
  const calls: string[] = [];
  const admit = async (releaseId: string): Promise<AdmissionAnswer> => {
    calls.push(releaseId);
    return { admitted: releaseId === `rel_${admittedTo}`, closed: false };
  };
  const deps = {
    delivery: memoryDelivery(sixWindows, { now: () => 1_000 }),
    lists: { getShard: failing },
    admissions: { admit, lookup: failing },
    clock: { now: () => 1_000 },
    bucketKey: bucketKeyFromHex("000102030405060708090a0b0c0d0e0f"),
    parseUserAgent: () => null,
    geoFromCf: () => null,
  } as unknown as Deps;
  return { deps, calls };
}

const check = async (deps: Deps, entries = 1): Promise<Decision[]> => {
  const installed = { id: "mp", version: "1.0.0", sha256: null, failed: [] };
  const input = checkInput({ miniPrograms: Array.from({ length: entries }, () => installed) });
  return (await decideAll(deps, input, { cf: null, userAgent: null }, "admit")).decisions;
};

const versionOf = (d: Decision | undefined) => (d?.action === "update" ? d.release.version : "none");

describe("time-window canaries settled in one check", () => {
  it("six open windows, admitted only to the lowest: every one is asked once and 1.1.0 is the answer", async () => {
    const { deps, calls } = depsAdmittingTo("1.1.0");
    const [decision] = await check(deps);
    expect(versionOf(decision)).toBe("1.1.0");
    // Highest first, each release once.
    expect(calls).toEqual(VERSIONS.map((v) => `rel_${v}`));
  });

  it("several entries for the mini program share the answers: still one call per release", async () => {
    const { deps, calls } = depsAdmittingTo("1.1.0");
    const decisions = await check(deps, 3);
    expect(decisions.map(versionOf)).toEqual(["1.1.0", "1.1.0", "1.1.0"]);
    expect([...calls].sort()).toEqual(VERSIONS.map((v) => `rel_${v}`).sort());
  });

  it("admitted to none: every window is asked and the answer is settled (nothing left pending)", async () => {
    const { deps, calls } = depsAdmittingTo(null);
    const [decision] = await check(deps);
    expect(decision?.action).toBe("none");
    expect(decision?.action === "none" ? decision.pendingAdmission : "unreachable").toBeUndefined();
    expect(calls).toHaveLength(VERSIONS.length);
  });

  it("admitted to the highest: 1.6.0 after one admission call", async () => {
    const { deps, calls } = depsAdmittingTo("1.6.0");
    const [decision] = await check(deps);
    expect(versionOf(decision)).toBe("1.6.0");
    expect(calls).toEqual(["rel_1.6.0"]);
  });
});
