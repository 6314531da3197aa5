// assertDeliveryFits with a snapshot already over its bound (a lowered bound, or growth the guard
// does not see): a change that does not grow it must pass, so releases can still be
// ended or paused (found by review: every change was refused once over the bound).
import { describe, expect, it } from "vitest";
import type { SnapshotSource } from "../../src/domain/compile-snapshot";
import type { Deps } from "../../src/usecases/ports";

const NO_OTHERS = { rules: [], listIds: [] };

import { assertDeliveryFits } from "../../src/usecases/publish-delivery";
import { oneVersionSource } from "../support/snapshot-source";

const big = { switches: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`s${i}`, "x".repeat(1000)])) };

const source = () =>
  oneVersionSource([{ status: "canary", config: big, targeting: { percentage: { basisPoints: 100 } } }]);

/** Deps with only what the guard reads: the relational state and a bound of 20 KB (the state is ~60 KB). */
const deps = {
  store: { measureSource: async () => ({ source: source(), others: NO_OTHERS }) },
  clock: { now: () => 0 },
  limits: { maxPartBytes: 20_000 },
} as unknown as Deps;

describe("assertDeliveryFits over the bound", () => {
  it("lets a change through that shrinks the snapshot or leaves its size alone", async () => {
    await assertDeliveryFits(deps, "env", "mp_1", (s) => {
      for (const r of s.releases) r.status = "ended";
    });
    await assertDeliveryFits(deps, "env", "mp_1", () => {});
  });

  it("refuses one that grows it further", async () => {
    await expect(
      assertDeliveryFits(deps, "env", "mp_1", (s) => {
        for (const r of s.releases) r.targeting = { percentage: { basisPoints: 100 }, stickyKey: "device" };
      }),
    ).rejects.toMatchObject({ code: "SNAPSHOT_TOO_LARGE" });
  });

  it("returns the snapshot version it measured, measuring again when the state changed between its reads", async () => {
    expect(await assertDeliveryFits(deps, "env", "mp_1", () => {})).toEqual({
      environmentId: "env",
      snapshotVersion: 1,
    });
    // Over the bound, the current state is read again: a version that moved on means another state.
    let reads = 0;
    const moving = (changes: number) =>
      ({
        ...deps,
        store: {
          measureSource: async () => ({
            source: { ...source(), version: Math.min(++reads, changes + 1) },
            others: NO_OTHERS,
          }),
        },
      }) as unknown as Deps;
    const ended = (s: SnapshotSource) => {
      for (const r of s.releases) r.status = "ended";
    };
    // Read 1 (v1) and read 2 (v2) differ; reads 3 and 4 (v3) agree: measured at v3.
    expect(await assertDeliveryFits(moving(2), "env", "mp_1", () => {})).toEqual({
      environmentId: "env",
      snapshotVersion: 3,
    });
    reads = 0;
    expect(await assertDeliveryFits(moving(2), "env", "mp_1", ended)).toEqual({
      environmentId: "env",
      snapshotVersion: 1,
    });
    reads = 0;
    await expect(assertDeliveryFits(moving(100), "env", "mp_1", () => {})).rejects.toMatchObject({ code: "CONFLICT" });
  });
});
