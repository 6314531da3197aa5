import { describe, expect, it } from "vitest";
import { reachOf, type SampledDevice } from "../../src/domain/stats/audience-reach";
import { AudienceSample } from "../../src/domain/stats/audience-sample";
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
