import { describe, expect, it } from "vitest";
import {
  compileTargeting,
  type EvaluationInput,
  evaluateTargeting,
  type Targeting,
} from "../../src/domain/targeting/evaluate";
import type { CompiledRule, DeviceProfile, RuleMatch } from "../../src/domain/targeting/rules";

const BRAND = { attribute: "brand", operator: "include", values: ["Xiaomi", "HUAWEI"] };
const APP = { attribute: "appVersion", operator: "inRange", values: [{ min: "8.2" }] };
const NETWORK = { attribute: "network", operator: "exclude", values: ["2g"] };
const MODEL = { attribute: "model", operator: "regex", values: ["^redmi"] };

function compiled(input: unknown): Targeting {
  const result = compileTargeting(input);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.targeting;
}

function profile(seed: number): DeviceProfile {
  const pick = <T>(list: T[], k: number): T => list[Math.floor(seed / k) % list.length] as T;
  return {
    city: null,
    region: null,
    country: null,
    brand: pick(["Xiaomi", "huawei", "Apple", null], 1),
    model: pick(["Redmi Note 12", "ELS-AN00", null], 4),
    network: pick(["wifi", "2g", "5G", null], 12),
    osName: null,
    osVersion: null,
    appVersion: pick(["8.1.9", "8.2", "9.0.0", "banana", null], 48),
    language: null,
    custom: {},
  };
}

const input = (p: DeviceProfile, ruleMatches?: Map<CompiledRule | string, RuleMatch>): EvaluationInput => ({
  profile: p,
  ids: { userId: null, deviceId: "device-1" },
  now: 0,
  inList: () => false,
  bucket: 0,
  admission: "unknown",
  ...(ruleMatches ? { ruleMatches } : {}),
});

describe("shared rules", () => {
  it("compiles identical rules to one shared object, and different rules to different ones", () => {
    const a = compiled({ rules: [BRAND, APP] });
    const b = compiled({ rules: [NETWORK, APP, BRAND], percentage: { basisPoints: 10 } });
    expect(b.rules[2]).toBe(a.rules[0]);
    expect(b.rules[1]).toBe(a.rules[1]);
    expect(b.rules[0]).not.toBe(a.rules[0]);
    // Normalization decides what is identical: value order and case are part of the rule.
    const c = compiled({ rules: [{ ...BRAND, values: ["HUAWEI", "Xiaomi"] }] });
    expect(c.rules[0]).not.toBe(a.rules[0]);
  });

  it("names the failed rule by its position in each targeting, even when the rule is shared", () => {
    const a = compiled({ rules: [BRAND, APP] });
    const b = compiled({ rules: [NETWORK, APP, BRAND] });
    const apple = { ...profile(0), brand: "Apple", network: "wifi", appVersion: "9.0.0" };
    expect(evaluateTargeting(a, input(apple)).failedRule).toEqual({
      index: 0,
      attribute: "brand",
      reason: "NOT_MATCHED",
    });
    expect(evaluateTargeting(b, input(apple)).failedRule).toEqual({
      index: 2,
      attribute: "brand",
      reason: "NOT_MATCHED",
    });
  });

  it("gives the same result with the per-check memo of rule outcomes as without it", () => {
    const targetings = [
      compiled({ rules: [BRAND, APP] }),
      compiled({ rules: [NETWORK, APP, BRAND], percentage: { basisPoints: 5000 } }),
      compiled({ rules: [MODEL, NETWORK] }),
      compiled({ rules: [APP, MODEL, BRAND, NETWORK], percentage: { basisPoints: 1 } }),
    ];
    let memoHits = 0;
    for (let seed = 0; seed < 240; seed++) {
      const p = profile(seed);
      const memo = new Map<CompiledRule | string, RuleMatch>();
      // Every order of evaluation, so each targeting sees a memo filled by the others.
      for (const order of [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [1, 3, 0, 2],
      ]) {
        for (const i of order) {
          const t = targetings[i] as Targeting;
          const before = memo.size;
          expect(evaluateTargeting(t, input(p, memo)), `seed ${seed} targeting ${i}`).toEqual(
            evaluateTargeting(t, input(p)),
          );
          if (memo.size === before) memoHits++;
        }
      }
      expect(memo.size).toBeLessThanOrEqual(4);
    }
    expect(memoHits).toBeGreaterThan(240 * 6);
  });

  it("evaluates identical regex rules once per check even when they are not one shared object", () => {
    // Between two compilations the isolate's intern table fills up and is cleared (it holds 1,000
    // rules): the same rule then compiles to another object.
    const model = { attribute: "model", operator: "regex", values: ["^model-[0-9]+-[a-z]{2,30}$"] };
    const targetings = [1, 2, 3].map((n) => {
      for (let i = 0; i < 1000; i++)
        compiled({ rules: [{ attribute: "brand", operator: "include", values: [`b${n}-${i}`] }] });
      return compiled({ rules: [model], percentage: { basisPoints: n } });
    });
    expect(targetings[0]?.rules[0]).not.toBe(targetings[1]?.rules[0]);
    let reads = 0;
    const counting = { ...profile(0) };
    Object.defineProperty(counting, "model", {
      get() {
        reads++;
        return "model-7-abc";
      },
    });
    const memo = new Map<CompiledRule | string, RuleMatch>();
    for (const t of targetings) expect(evaluateTargeting(t, input(counting, memo)).step).toBe("percentage");
    expect(reads).toBe(1);
    // Without the memo each targeting evaluates it.
    reads = 0;
    for (const t of targetings) evaluateTargeting(t, input(counting));
    expect(reads).toBe(3);
  });
});
