// The per-check regex budget as assertDeliveryFits measures it (snapshotRegexCost): what one check of
// an (app, environment) may evaluate. Every canary release's rules, each release on its own; every
// list those releases refer to, once; targeting that no longer compiles counts nothing (it is
// evaluated by nobody). Over MAX_TARGET_REGEX_COST a change is refused only if it grows the cost.
import { describe, expect, it } from "vitest";
import { compileSnapshot, type SnapshotSource, snapshotRegexCost } from "../../src/domain/compile-snapshot";
import { listRegexCost } from "../../src/domain/targeting/allowlist";
import {
  compileRegex,
  MAX_RELEASE_REGEX_COST,
  MAX_RULE_REGEX_COST,
  MAX_TARGET_REGEX_COST,
} from "../../src/domain/targeting/rules";
import type { Deps } from "../../src/usecases/ports";

const NO_OTHERS = { rules: [], listIds: [] };

import { assertDeliveryFits } from "../../src/usecases/publish-delivery";
import { oneVersionSource } from "../support/snapshot-source";

const cost = (p: string) => {
  const r = compileRegex(p, true);
  if (!r.ok) throw new Error(r.message);
  return r.cost;
};

/** Regex rules costing `units` (a multiple of 100): patterns `a{98}` of 100 units each. */
function rules(units: number, tag: string) {
  const out = [];
  for (let left = units, i = 0; left > 0; i++) {
    const n = Math.min(left, MAX_RULE_REGEX_COST) / 100;
    out.push({ attribute: `custom:${tag}${i}`, operator: "regex", values: Array.from({ length: n }, () => "a{98}") });
    left -= n * 100;
  }
  return out;
}

type Rel = { status: SnapshotSource["releases"][number]["status"]; targeting: Record<string, unknown> | null };

/** Canary releases whose rules cost `units` together, each within the release budget. */
function canaries(units: number, tag: string): Rel[] {
  const out: Rel[] = [];
  for (let left = units, i = 0; left > 0; i++) {
    const c = Math.min(left, MAX_RELEASE_REGEX_COST);
    out.push({ status: "canary", targeting: { rules: rules(c, `${tag}${i}_`) } });
    left -= c;
  }
  return out;
}

const LIST = {
  id: "al_1",
  version: 1,
  kind: "device" as const,
  contentKey: "c",
  shardCount: 1,
  regexEntries: ["^dev-", "^qa-\\d+$"],
};
const source = (releases: Rel[]) => oneVersionSource(releases, [{ ...LIST, regexEntries: [...LIST.regexEntries] }]);

describe("snapshotRegexCost", () => {
  const deny = { denylists: [{ kind: "device", listId: "al_1" }] };
  it("counts every distinct regex rule of the canary releases once, lists once, and nothing for full, ended or broken targeting", () => {
    expect(cost("a{98}")).toBe(100);
    const listCost = listRegexCost(["^dev-", "^qa-\\d+$"]);
    const s = source([
      { status: "canary", targeting: { rules: rules(300, "x"), ...deny } },
      // The same rules again: counted once (a check evaluates each distinct regex rule once, see
      // ruleMemoKey); different rules with the same patterns are counted on their own.
      { status: "canary", targeting: { rules: rules(300, "x"), ...deny } },
      { status: "canary", targeting: { rules: rules(200, "w") } },
      { status: "full", targeting: { rules: rules(500, "y") } },
      { status: "ended", targeting: { rules: rules(500, "z") } },
      // Stored before RE2: no longer compiles, so the release is evaluated by nobody.
      { status: "canary", targeting: { rules: [{ attribute: "model", operator: "regex", values: ["^(?=a)"] }] } },
    ]);
    expect(snapshotRegexCost(compileSnapshot(s))).toBe(500 + listCost);
  });

  /** A state over the target budget, as saved before the bound existed. */
  const over = () =>
    source([
      { status: "canary", targeting: { rules: rules(500, "b"), ...deny } },
      { status: "approved", targeting: { rules: rules(100, "c") } },
      ...canaries(MAX_TARGET_REGEX_COST, "a"),
    ]);
  const deps = {
    store: { measureSource: async () => ({ source: over(), others: NO_OTHERS }) },
    clock: { now: () => 0 },
    limits: { maxPartBytes: 8 * 1024 * 1024 },
  } as unknown as Deps;

  it("lets a change through over the budget when it does not grow the cost (pause, end, no change)", async () => {
    await assertDeliveryFits(deps, "env", "mp_1", (s) => {
      for (const r of s.releases) if (r.id === "r1") r.status = "paused";
    });
    await assertDeliveryFits(deps, "env", "mp_1", (s) => {
      for (const r of s.releases) if (r.id === "r0") r.status = "ended";
    });
    await assertDeliveryFits(deps, "env", "mp_1", () => {});
  });

  it("refuses one that grows it, with REGEX_BUDGET_EXCEEDED", async () => {
    await expect(
      assertDeliveryFits(deps, "env", "mp_1", (s) => {
        for (const r of s.releases) if (r.id === "r1") r.status = "canary";
      }),
    ).rejects.toMatchObject({ code: "REGEX_BUDGET_EXCEEDED" });
    await expect(
      assertDeliveryFits(deps, "env", "mp_1", (s) => {
        for (const l of s.lists) l.regexEntries = [...l.regexEntries, "^more-"];
      }),
    ).rejects.toMatchObject({ code: "REGEX_BUDGET_EXCEEDED" });
  });

  it("accepts a target exactly at the budget and refuses one unit more", async () => {
    expect(MAX_TARGET_REGEX_COST).toBe(2 * MAX_RELEASE_REGEX_COST);
    const at = source([
      ...canaries(MAX_RELEASE_REGEX_COST, "a"),
      { status: "canary", targeting: { rules: [...rules(300, "b"), ...rules(MAX_RELEASE_REGEX_COST / 2 - 300, "c")] } },
      { status: "canary", targeting: { rules: rules(MAX_RELEASE_REGEX_COST / 2, "d") } },
    ]);
    expect(snapshotRegexCost(compileSnapshot(at))).toBe(MAX_TARGET_REGEX_COST);
    const fresh = {
      ...deps,
      store: { measureSource: async () => ({ source: source([]), others: NO_OTHERS }) },
    } as unknown as Deps;
    await assertDeliveryFits(fresh, "env", "mp_1", (s) => {
      s.releases = at.releases;
    });
    // One 100-unit pattern (`a{98}`) swapped for a 101-unit one (`a{99}`).
    const plusOne = structuredClone(at);
    const second = plusOne.releases[1]?.targeting?.rules as { values: string[] }[];
    if (second[1]) second[1].values[0] = "a{99}";
    expect(snapshotRegexCost(compileSnapshot(plusOne))).toBe(MAX_TARGET_REGEX_COST + 1);
    await expect(
      assertDeliveryFits(fresh, "env", "mp_1", (s) => {
        s.releases = plusOne.releases;
      }),
    ).rejects.toMatchObject({ code: "REGEX_BUDGET_EXCEEDED" });
  });
});
