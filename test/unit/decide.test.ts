import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { EMPTY_CONFIG } from "../../src/domain/config";
import { type CanaryContext, decide } from "../../src/domain/decide";
import type { SnapshotMiniProgram, SnapshotRelease } from "../../src/domain/snapshot";
import { compileTargeting } from "../../src/domain/targeting/evaluate";
import { EMPTY_PROFILE } from "../support/profiles";

function release(version: string, seq: number, extra: Partial<SnapshotRelease> = {}): SnapshotRelease {
  return {
    releaseId: `rel_${version}`,
    version,
    seq,
    status: "full",
    rollback: false,
    updateMode: "async",
    compat: "*",
    package: { sha256: version.padEnd(64, "0"), size: 10 },
    publisherSignature: null,
    config: EMPTY_CONFIG,
    targeting: null,
    ...extra,
  };
}

function mp(releases: SnapshotRelease[], extra: Partial<SnapshotMiniProgram> = {}): SnapshotMiniProgram {
  return {
    id: "mp_1",
    type: "dsl",
    origin: "workspace",
    minUsableVersion: null,
    knownVersions: ["1.0.0", "1.1.0", "1.2.0", "1.3.0"],
    syncMilestones: [],
    releases: [...releases].sort((a, b) => b.seq - a.seq),
    ...extra,
  };
}

const q = (installed: string | null, appVersion: string | null = "8.0.0", failed: string[] = []) => ({
  installed,
  appVersion,
  failed,
});

/** What a device sees of a decision (the reason of a `none` may be coarser without explain). */
const outcome = (d: ReturnType<typeof decide>) => ({
  action: d.action,
  version: "release" in d ? d.release.version : null,
  releaseId: "release" in d ? d.release.releaseId : null,
  updateMode: "release" in d ? d.updateMode : null,
  pending: d.action === "none" ? (d.pendingAdmission?.releaseId ?? null) : null,
});

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]));
}

describe("decide", () => {
  it.each([
    ["not installed gets the latest", null, "update", "1.2.0"],
    ["older gets the latest", "1.0.0", "update", "1.2.0"],
    ["latest gets none", "1.2.0", "none", undefined],
    ["newer than every release gets none, never a downgrade", "1.3.0", "none", undefined],
  ])("%s", (_name, installed, action, version) => {
    const d = decide(mp([release("1.1.0", 1), release("1.2.0", 2)]), q(installed));
    expect(d.action).toBe(action);
    if ("release" in d) expect(d.release.version).toBe(version);
  });

  it("answers none for unknown mini programs and unknown or malformed installed versions", () => {
    expect(decide(undefined, q(null)).reason).toBe("UNKNOWN_MINI_PROGRAM");
    expect(decide(mp([release("1.2.0", 1)]), q("0.9.0")).reason).toBe("UNKNOWN_VERSION");
    expect(decide(mp([release("1.2.0", 1)]), q("banana")).reason).toBe("UNKNOWN_VERSION");
  });

  it("respects the host app compatibility range and fails closed without an app version", () => {
    const m = mp([release("1.1.0", 1), release("1.2.0", 2, { compat: ">=9.0.0" })]);
    expect(decide(m, q("1.0.0", "8.5.0"))).toMatchObject({ action: "update", release: { version: "1.1.0" } });
    expect(decide(m, q("1.0.0", "9.1"))).toMatchObject({ action: "update", release: { version: "1.2.0" } });
    expect(decide(m, q("1.0.0", null))).toMatchObject({ action: "update", release: { version: "1.1.0" } });
    const only = mp([release("1.2.0", 2, { compat: ">=9.0.0" })]);
    expect(decide(only, q("1.0.0", null)).reason).toBe("NO_APPLICABLE_RELEASE");
  });

  it("never offers a version the device reported as failed", () => {
    const d = decide(mp([release("1.1.0", 1), release("1.2.0", 2)]), q("1.0.0", "8.0.0", ["1.2.0"]), null, true);
    expect(d).toMatchObject({ action: "update", release: { version: "1.1.0" } });
    expect(d.trace.find((t) => t.version === "1.2.0")?.reason).toBe("FAILED_ON_DEVICE");
  });

  it("builds the per-release trace only when explaining, with the same decision either way", () => {
    const m = mp([release("1.1.0", 1), release("1.2.0", 2, { compat: ">=9.0.0" }), release("1.3.0", 3)]);
    for (const query of [q("1.0.0", "8.5.0", ["1.3.0"]), q("1.3.0"), q(null, "9.1"), q("1.1.0", null)]) {
      const device = decide(m, query);
      const explained = decide(m, query, null, true);
      expect(device.trace).toEqual([]);
      expect(explained.trace.map((t) => t.version)).toEqual(["1.3.0", "1.2.0", "1.1.0"]);
      expect(outcome(explained)).toEqual(outcome(device));
    }
  });

  it("gives devices the same outcome as explain over every combination of releases and installed versions", () => {
    const versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"];
    let combos = 0;
    // Every subset of up to 3 releases, in every sequence order, some rolled back or incompatible.
    for (let mask = 1; mask < 16; mask++) {
      const chosen = versions.filter((_, i) => mask & (1 << i));
      if (chosen.length > 3) continue;
      for (const order of permutations(chosen)) {
        for (let flags = 0; flags < 3 ** order.length; flags++) {
          const rels = order.map((v, i) => {
            const f = Math.floor(flags / 3 ** i) % 3;
            return release(v, i + 1, f === 1 ? { rollback: true } : f === 2 ? { compat: ">=9.0.0" } : {});
          });
          const m = mp([...rels].sort((a, b) => b.seq - a.seq));
          for (const installed of [null, ...versions]) {
            for (const failed of [[], ["1.3.0"]]) {
              const query = q(installed, "8.5.0", failed);
              expect(outcome(decide(m, query)), JSON.stringify({ order, flags, installed, failed })).toEqual(
                outcome(decide(m, query, null, true)),
              );
              combos++;
            }
          }
        }
      }
    }
    expect(combos).toBeGreaterThan(1000);
  });

  it("gives devices the same outcome as explain with canary releases in, out and waiting on a time window", () => {
    // Release kinds: full, full rollback, canary that applies, canary that does not, canary waiting
    // on its time-window admission, incompatible full release.
    const kinds: Partial<SnapshotRelease>[] = [
      {},
      { rollback: true },
      { status: "canary", targeting: { percentage: { basisPoints: 10000 } } },
      { status: "canary", targeting: { percentage: { basisPoints: 0 } } },
      { status: "canary", targeting: { timeWindow: { startsAt: 0, endsAt: 100_000, cap: 5 } } },
      { compat: ">=9.0.0" },
    ];
    const canary: CanaryContext = {
      profile: EMPTY_PROFILE,
      ids: { userId: null, deviceId: "device-1" },
      now: 1_000,
      targetingOf(r) {
        const compiled = r.targeting === null ? null : compileTargeting(r.targeting);
        return compiled?.ok ? compiled.targeting : null;
      },
      inList: () => false,
      bucketOf: () => 0,
      admission: () => "unknown",
    };
    const versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"];
    // Sequences of 1 to 3 releases; a version may repeat (a canary and a full release of the same version).
    const sequences: string[][] = [[]];
    for (let length = 1; length <= 3; length++) {
      for (const prefix of sequences.filter((x) => x.length === length - 1)) {
        for (const v of versions) sequences.push([...prefix, v]);
      }
    }
    const seen = new Set<string>();
    let combos = 0;
    for (const order of sequences.filter((x) => x.length > 0)) {
      for (let flags = 0; flags < kinds.length ** order.length; flags++) {
        const rels = order.map((v, i) =>
          release(v, i + 1, { ...kinds[Math.floor(flags / kinds.length ** i) % kinds.length], releaseId: `rel_${i}` }),
        );
        const m = mp(rels);
        for (const installed of [null, ...versions, "v1.1.0", " 1.2.0", "1.2"]) {
          for (const failed of [[], ["1.3.0"]]) {
            const query = q(installed, "8.5.0", failed);
            const device = outcome(decide(m, query, canary));
            const explained = outcome(decide(m, query, canary, true));
            // expect() only on a difference: its message, built for each of 150,000 combinations,
            // cost most of the test's time (close to vitest's 5 s default on a busy 2-core machine).
            if (!isDeepStrictEqual(device, explained)) {
              expect(device, JSON.stringify({ order, flags, installed, failed })).toEqual(explained);
            }
            seen.add(device.pending !== null ? "pending" : device.action);
            combos++;
          }
        }
      }
    }
    // Installed versions in non-canonical forms take the parsing path; "1.2" is not a version.
    expect(combos).toBeGreaterThan(150_000);
    expect([...seen].sort()).toEqual(["none", "pending", "rollback", "update"]);
  });

  it("lets a newer rollback release win and report rollback to devices above it", () => {
    const m = mp([release("1.2.0", 1), release("1.1.0", 2, { rollback: true })]);
    expect(decide(m, q("1.2.0"))).toMatchObject({ action: "rollback", release: { version: "1.1.0" } });
    expect(decide(m, q("1.0.0"))).toMatchObject({ action: "update", release: { version: "1.1.0" } });
    expect(decide(m, q("1.1.0")).action).toBe("none");
    const later = mp([release("1.2.0", 1), release("1.1.0", 2, { rollback: true }), release("1.3.0", 3)]);
    expect(decide(later, q("1.2.0"))).toMatchObject({ action: "update", release: { version: "1.3.0" } });
  });

  it("offers a rollback only when it is newer than the release the device says it installed from", () => {
    // 1.3.0 came from a canary (sequence 3) after the rollback (sequence 2); the canary is paused.
    const m = mp([release("1.2.0", 1), release("1.1.0", 2, { rollback: true })]);
    const from = (installedSequence: number | null) => ({ ...q("1.3.0"), installedSequence });
    expect(decide(m, from(3))).toMatchObject({ action: "none", reason: "UP_TO_DATE" });
    expect(decide(m, from(3), null, true).trace).toContainEqual(
      expect.objectContaining({ releaseId: "rel_1.1.0", reason: "NOT_NEWER" }),
    );
    expect(decide(m, from(2))).toMatchObject({ action: "none" });
    expect(decide(m, from(1))).toMatchObject({ action: "rollback", release: { version: "1.1.0" } });
    // A version shipped with the app (0), or a client that does not say: the rollback applies.
    expect(decide(m, from(0))).toMatchObject({ action: "rollback" });
    expect(decide(m, from(null))).toMatchObject({ action: "rollback" });
  });

  it("makes a skipped sync milestone mandatory and forces sync below the minimum usable version", () => {
    const m = mp([release("1.3.0", 3)], { syncMilestones: ["1.2.0"] });
    expect(decide(m, q("1.0.0"))).toMatchObject({ updateMode: "sync" });
    expect(decide(m, q("1.2.0"))).toMatchObject({ updateMode: "async" });
    const min = mp([release("1.3.0", 3)], { minUsableVersion: "1.1.0" });
    expect(decide(min, q("1.0.0"))).toMatchObject({ updateMode: "sync" });
    expect(decide(min, q("1.1.0"))).toMatchObject({ updateMode: "async" });
    expect(decide(m, q(null))).toMatchObject({ updateMode: "async" });
  });
});
