// The check when storage fails (found by review: every one of these was a 500 for the whole check).
// A list shard that cannot be read: a denylist refuses, an allowlist admits nobody, and full releases
// still go out. An admission authority that cannot be reached: not admitted, for this check only. A
// snapshot that cannot be read on a cold isolate: SERVICE_UNAVAILABLE, never a signed "no update".
import { describe, expect, it } from "vitest";
import type { Snapshot } from "../../src/domain/snapshot";
import { bucketKeyFromHex } from "../../src/domain/targeting/bucket";
import { decideAll } from "../../src/usecases/check-updates";
import type { Deps } from "../../src/usecases/ports";
import { checkInput, oneMiniProgramSnapshot } from "../support/decide-fixtures";
import { memoryDelivery, memoryDeliveryStore } from "../support/memory-delivery";

const snapshotWith = (targeting: unknown): Snapshot =>
  oneMiniProgramSnapshot(targeting, null, {
    knownVersions: ["0.9.0", "1.0.0", "1.1.0"],
    lists: { deny: { kind: "device", contentKey: "lc_deny", shardCount: 1, regex: [] } },
  });

const failing = async () => {
  throw new Error("storage timeout");
};

function deps(snapshot: Snapshot | null, over: Record<string, unknown> = {}): Deps {
  return {
    delivery: memoryDelivery(snapshot),
    lists: { getShard: failing },
    admissions: { admit: failing, lookup: failing },
    clock: { now: () => 1_000 },
    bucketKey: bucketKeyFromHex("000102030405060708090a0b0c0d0e0f"),
    parseUserAgent: () => null,
    geoFromCf: () => null,
    ...over,
  } as unknown as Deps;
}

const input = checkInput({ miniPrograms: [{ id: "mp", version: "0.9.0", sha256: null, failed: [] }] });

const versionOffered = async (d: Deps) => {
  const [decision] = (await decideAll(d, input, { cf: null, userAgent: null }, "admit")).decisions;
  return decision?.action === "update" ? decision.release.version : "none";
};

describe("the check when storage fails", () => {
  it("a denylist shard that cannot be read refuses the canary; the full release still goes out", async () => {
    const everyone = { denylists: [{ kind: "device", listId: "deny" }], percentage: { basisPoints: 10_000 } };
    expect(await versionOffered(deps(snapshotWith(everyone)))).toBe("1.0.0");
    // With the shard readable and the device not on it, the canary wins: the failure made the difference.
    const readable = { getShard: async () => ({ has: () => false }) };
    expect(await versionOffered(deps(snapshotWith(everyone), { lists: readable }))).toBe("1.1.0");
  });

  it("an allowlist shard that cannot be read admits nobody", async () => {
    const listed = { allowlists: [{ kind: "device", listId: "deny" }] };
    expect(await versionOffered(deps(snapshotWith(listed)))).toBe("1.0.0");
    const readable = { getShard: async () => ({ has: () => true }) };
    expect(await versionOffered(deps(snapshotWith(listed), { lists: readable }))).toBe("1.1.0");
  });

  it("an admission authority that cannot be reached admits nobody, this time", async () => {
    const window = { timeWindow: { startsAt: 0, endsAt: 10_000, cap: 10 } };
    expect(await versionOffered(deps(snapshotWith(window)))).toBe("1.0.0");
    const up = { admit: async () => ({ admitted: true, closed: false }), lookup: failing };
    expect(await versionOffered(deps(snapshotWith(window), { admissions: up }))).toBe("1.1.0");
  });

  it("delivery state that cannot be read, with no copy in hand, is SERVICE_UNAVAILABLE", async () => {
    const headDown = { ...memoryDeliveryStore(snapshotWith(null)), head: failing };
    await expect(versionOffered(deps(null, { delivery: memoryDelivery(headDown) }))).rejects.toMatchObject({
      code: "SERVICE_UNAVAILABLE",
    });
    const partDown = { ...memoryDeliveryStore(snapshotWith(null)), part: failing };
    await expect(versionOffered(deps(null, { delivery: memoryDelivery(partDown) }))).rejects.toMatchObject({
      code: "SERVICE_UNAVAILABLE",
    });
  });
});

describe("stored list regex entries the current rules refuse", () => {
  const withRegex = (targeting: unknown, regex: string[]) =>
    oneMiniProgramSnapshot(targeting, null, {
      knownVersions: ["0.9.0", "1.0.0", "1.1.0"],
      lists: { deny: { kind: "device", contentKey: "lc_deny", shardCount: 1, regex } },
    });
  const notOnShard = { lists: { getShard: async () => ({ has: () => false }) } };
  // `^(?=d)` was a valid JavaScript pattern when saved; RE2 has no lookahead.
  const refused = ["^(?=d)"];

  it("fail closed in a denylist: the device is kept out of the canary", async () => {
    const everyone = { denylists: [{ kind: "device", listId: "deny" }], percentage: { basisPoints: 10_000 } };
    expect(await versionOffered(deps(withRegex(everyone, refused), notOnShard))).toBe("1.0.0");
    expect(await versionOffered(deps(withRegex(everyone, ["^nobody$"]), notOnShard))).toBe("1.1.0");
  });

  it("admit nobody through an allowlist", async () => {
    const listed = { allowlists: [{ kind: "device", listId: "deny" }] };
    expect(await versionOffered(deps(withRegex(listed, refused), notOnShard))).toBe("1.0.0");
    expect(await versionOffered(deps(withRegex(listed, ["^d-"]), notOnShard))).toBe("1.1.0");
  });
});

describe("targets that cannot exist", () => {
  it("are answered without asking any store (found by review: each made-up appId was cached for good)", async () => {
    const store = memoryDeliveryStore(null);
    const counting = deps(null, { delivery: memoryDelivery(store) });
    for (const [appId, env] of [
      ["Not A Key", "prod"],
      ["app", "PROD"],
      ["a".repeat(100), "prod"],
    ] as const) {
      const { decisions } = await decideAll(counting, { ...input, appId, env }, { cf: null, userAgent: null }, "admit");
      expect(decisions[0]?.action).toBe("none");
    }
    expect(store.reads.head).toBe(0);
    await decideAll(counting, input, { cf: null, userAgent: null }, "admit");
    expect(store.reads.head).toBe(1);
  });
});

describe("a check asking about one mini program many times", () => {
  it("asks the time-window authority once (found by review: 200 entries made 200 calls)", async () => {
    let calls = 0;
    const window = { timeWindow: { startsAt: 0, endsAt: 10_000, cap: 10 } };
    const counting = deps(snapshotWith(window), {
      admissions: {
        admit: async () => {
          calls += 1;
          return { admitted: true, closed: false };
        },
        lookup: failing,
      },
    });
    const many = { ...input, miniPrograms: Array.from({ length: 200 }, () => input.miniPrograms[0] as never) };
    const { decisions } = await decideAll(counting, many, { cf: null, userAgent: null }, "admit");
    expect(decisions.every((d) => d.action === "update")).toBe(true);
    expect(calls).toBe(1);
  });
});
