import { describe, expect, it } from "vitest";
import { reachOf, type SampledDevice } from "../../src/domain/stats/audience-reach";
import { AudienceSample, estimateAll } from "../../src/domain/stats/audience-sample";
import { compileTargeting, type Targeting } from "../../src/domain/targeting/evaluate";
import { EMPTY_PROFILE } from "../support/profiles";

function compiled(json: unknown): Targeting {
  const c = compileTargeting(json);
  if (!c.ok) throw new Error(JSON.stringify(c.errors));
  return c.targeting;
}

const device = (brand: string, user: string | null, miniPrograms = ["shop"]): SampledDevice => ({
  profile: { ...EMPTY_PROFILE, brand },
  user,
  miniPrograms,
});

describe("reach of a targeting over sampled devices", () => {
  const lists = new Map([["al_vip", new Set(["u-hash-1"])]]);
  const now = 10_000;

  it("counts only devices that asked about the mini program", () => {
    const full = reachOf({ kind: "full" }, "shop", now, lists);
    expect(full(device("x", null), "0000000000000001")).toBe(1);
    expect(full(device("x", null, ["other"]), "0000000000000001")).toBe(0);
    expect(reachOf({ kind: "none" }, "shop", now, lists)(device("x", null), "0000000000000001")).toBe(0);
  });

  it("applies filters exactly, a percentage in expectation, and lists by hash", () => {
    const t = compiled({
      allowlists: [{ kind: "user", listId: "al_vip" }],
      rules: [{ attribute: "brand", operator: "include", values: ["acme"] }],
      percentage: { basisPoints: 2500 },
    });
    const reach = reachOf({ kind: "canary", targeting: t }, "shop", now, lists);
    expect(reach(device("acme", null), "0000000000000001")).toBe(0.25);
    expect(reach(device("other", null), "0000000000000001")).toBe(0);
    // Allowlisted (by its user hash): in, whatever the filters.
    expect(reach(device("other", "u-hash-1"), "0000000000000001")).toBe(1);
  });

  it("takes a ramp at its step at `now`", () => {
    const t = compiled({ percentage: { basisPoints: 100, ramp: [{ at: 5000, basisPoints: 4000 }] } });
    expect(reachOf({ kind: "canary", targeting: t }, "shop", now, lists)(device("x", null), "00000000000000aa")).toBe(
      0.4,
    );
    expect(reachOf({ kind: "canary", targeting: t }, "shop", 1000, lists)(device("x", null), "00000000000000aa")).toBe(
      0.01,
    );
  });

  it("gives the sample's estimate of a filter's share within ±2 pp on 100,000 devices from a 10 % sample", () => {
    // Devices with a keyed-hash-like spread: 30 % acme; a sample of 10,000 (10 %).
    const sample = new AudienceSample<SampledDevice>(10_000);
    let x = 0x9e3779b9;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    let acme = 0;
    for (let i = 0; i < 100_000; i++) {
      const isAcme = i % 10 < 3;
      if (isAcme) acme++;
      const hash = next().toString(16).padStart(8, "0") + next().toString(16).padStart(8, "0");
      sample.offer(hash, device(isAcme ? "acme" : "other", null), i);
    }
    const t = compiled({ rules: [{ attribute: "brand", operator: "include", values: ["acme"] }] });
    const e = sample.estimate(reachOf({ kind: "canary", targeting: t }, "shop", now, lists));
    const share = e.estimate / e.population;
    expect(Math.abs(share - acme / 100_000)).toBeLessThan(0.02);
    expect(Math.abs(e.population - 100_000) / 100_000).toBeLessThan(0.04);
  });
});

describe("estimate over a monitor's view of one mini program", () => {
  it("equals the whole sample's estimates and difference, from only the devices that asked about it", () => {
    const sample = new AudienceSample<SampledDevice>(50);
    let x = 0x2545f491;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    for (let i = 0; i < 400; i++) {
      const hash = next().toString(16).padStart(8, "0") + next().toString(16).padStart(8, "0");
      sample.offer(hash, device(i % 3 === 0 ? "acme" : "other", null, i % 4 === 0 ? ["shop", "news"] : ["news"]), i);
    }
    const lists = new Map<string, Set<string>>();
    const current = compiled({ percentage: { basisPoints: 1000 } });
    const proposed = compiled({
      rules: [{ attribute: "brand", operator: "include", values: ["acme"] }],
      percentage: { basisPoints: 5000 },
    });
    const reach = (t: Targeting, mp: string | null) => reachOf({ kind: "canary", targeting: t }, mp, 10_000, lists);
    const view = sample.view((p) => (p.miniPrograms?.includes("shop") ? { profile: p.profile, user: p.user } : null));
    expect(view.size).toBe(50);
    expect(view.full).toBe(true);
    expect(view.entries.length).toBeLessThan(25);
    expect(view.entries.length).toBeGreaterThan(0);
    const all = estimateAll(view, reach(current, null), reach(proposed, null));
    const close = (a: object, b: object) => {
      for (const [k, v] of Object.entries(b)) expect((a as Record<string, number>)[k], k).toBeCloseTo(v as number, 9);
    };
    close(all.current, sample.estimate(reach(current, "shop")));
    close(all.proposed, sample.estimate(reach(proposed, "shop")));
    close(all.delta, sample.estimateDelta(reach(current, "shop"), reach(proposed, "shop")));
  });
});
