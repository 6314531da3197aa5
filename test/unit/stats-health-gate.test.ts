import { describe, expect, it } from "vitest";
import { MAX_FIELD_ERRORS } from "../../src/domain/errors";
import {
  evaluateHealthGate,
  HEALTH_POLICY_DEFAULTS,
  type HealthPolicy,
  validateHealthPolicy,
  zForConfidence,
} from "../../src/domain/stats/health-gate";
import { wilsonLowerBound, Z_90, Z_95, Z_99 } from "../../src/domain/stats/wilson";

const MINUTE = 60_000;
const NOW = Date.UTC(2030, 0, 1);
const policy = (over: Partial<HealthPolicy> = {}): HealthPolicy => ({
  failureRateBasisPoints: 100,
  minAttempts: 20,
  minFailures: 2,
  confidence: 0.95,
  action: "pause",
  cooldownMs: 10 * MINUTE,
  windowMs: 60 * MINUTE,
  ...over,
});
const judge = (
  attempts: number,
  failures: number,
  over: Partial<HealthPolicy> = {},
  lastActionAt: number | null = null,
) => evaluateHealthGate({ policy: policy(over), observed: { attempts, failures }, now: NOW, lastActionAt });

/** Percent with 2 decimals, as the research table (docs/statistics.md) prints it. */
const pct = (x: number) => (x * 100).toFixed(2);

describe("Wilson lower bound", () => {
  // The table of /tmp/contract/issue16-research.md § 5 (z = 1.959964).
  it.each([
    [1, 20, "0.89"],
    [2, 40, "1.38"],
    [5, 100, "2.15"],
    [10, 200, "2.74"],
    [50, 1000, "3.81"],
    [1, 200, "0.09"],
    [15, 1000, "0.91"],
  ])("%i of %i → %s %%", (k, n, expected) => {
    expect(pct(wilsonLowerBound(k, n))).toBe(expected);
  });

  it("is 0 without trials and without successes, and below p̂ otherwise", () => {
    expect(wilsonLowerBound(0, 0)).toBe(0);
    expect(wilsonLowerBound(0, 1_000_000)).toBe(0);
    expect(wilsonLowerBound(1, 1)).toBeGreaterThan(0);
    expect(wilsonLowerBound(1, 1)).toBeLessThan(1);
    expect(wilsonLowerBound(7, 100)).toBeLessThan(0.07);
    expect(wilsonLowerBound(100, 100)).toBeLessThan(1);
  });

  it("widens with the confidence", () => {
    expect(Z_95).toBeCloseTo(1.959964, 6);
    const [l90, l95, l99] = [Z_90, Z_95, Z_99].map((z) => wilsonLowerBound(5, 100, z));
    expect(l90).toBeGreaterThan(l95 as number);
    expect(l95).toBeGreaterThan(l99 as number);
  });

  it("refuses impossible counts", () => {
    expect(() => wilsonLowerBound(3, 2)).toThrow(RangeError);
    expect(() => wilsonLowerBound(-1, 2)).toThrow(RangeError);
    expect(() => wilsonLowerBound(1.5, 2)).toThrow(RangeError);
    expect(() => wilsonLowerBound(0, -1)).toThrow(RangeError);
    expect(() => wilsonLowerBound(1, 2, 0)).toThrow(RangeError);
  });
});

describe("health gate verdict", () => {
  it("breaches a canary failing at 5 % against a 1 % gate once it has enough attempts and failures", () => {
    const r = judge(40, 2);
    expect(r.verdict).toBe("breached");
    expect(r.lowerBoundBasisPoints).toBeCloseTo(138.2, 0);
    expect(r.reason).toBe("Failure rate lower bound 1.38 % (2 of 40 attempts, Wilson 95 %) is over the 1 % threshold.");
    // 1 of 20 is 5 % too, but its lower bound (0.89 %) is not over 1 %.
    expect(judge(20, 1).verdict).toBe("healthy");
    // Observed 5 % over every number of attempts: the first breach is at 40 with minFailures 2.
    const first = Array.from({ length: 200 }, (_, i) => i + 1).find(
      (n) => judge(n, Math.floor(n / 20)).verdict === "breached",
    );
    expect(first).toBe(40);
  });

  it("keeps a healthy canary failing at 0.5 % over 5,000 attempts healthy", () => {
    const r = judge(5_000, 25, { minFailures: 5 });
    expect(r.verdict).toBe("healthy");
    expect(r.lowerBoundBasisPoints).toBeLessThan(100);
    expect(r.reason).toBe(
      "Failure rate lower bound 0.34 % (25 of 5,000 attempts, Wilson 95 %) is not over the 1 % threshold.",
    );
    expect(judge(5_000, 0).verdict).toBe("healthy");
  });

  it("waits for minAttempts before judging", () => {
    const r = judge(19, 19);
    expect(r.verdict).toBe("insufficient_data");
    expect(r.lowerBoundBasisPoints).toBeGreaterThan(8_000);
    expect(r.reason).toBe("Not enough data: 19 attempts (19 failed) in the last 60 min; the gate judges from 20.");
    expect(judge(0, 0).lowerBoundBasisPoints).toBe(0);
    expect(judge(1, 0, { minAttempts: 2 }).reason).toBe(
      "Not enough data: 1 attempt (0 failed) in the last 60 min; the gate judges from 2.",
    );
  });

  it("holds, without acting, on a bound over the threshold from fewer than minFailures failures", () => {
    const r = judge(40, 2, { minFailures: 5 });
    expect(r.verdict).toBe("insufficient_data");
    expect(r.reason).toBe(
      "Failure rate lower bound 1.38 % (2 of 40 attempts, Wilson 95 %) is over the 1 % threshold, but the gate acts from 5 failures.",
    );
    expect(judge(100, 5, { minFailures: 5 }).verdict).toBe("breached");
  });

  it("does not act again within the cooldown", () => {
    const cooling = judge(40, 2, {}, NOW - 2 * MINUTE);
    expect(cooling.verdict).toBe("cooling_down");
    expect(cooling.reason).toBe(
      "Failure rate lower bound 1.38 % (2 of 40 attempts, Wilson 95 %) is over the 1 % threshold, but the last automatic action was 2 min ago, within the 10 min cooldown.",
    );
    expect(judge(40, 2, {}, NOW - 10 * MINUTE).verdict).toBe("breached");
    expect(judge(40, 2, { cooldownMs: 0 }, NOW).verdict).toBe("breached");
    // The cooldown only delays actions: a healthy canary is healthy.
    expect(judge(5_000, 25, {}, NOW - MINUTE).verdict).toBe("healthy");
  });

  it("judges at the policy's confidence", () => {
    // 2/40: 1.38 % at 95 %, 1.67 % at 90 %, 0.91 % at 99 %.
    expect(judge(40, 2, { confidence: 0.9 }).verdict).toBe("breached");
    const r = judge(40, 2, { confidence: 0.99 });
    expect(r.verdict).toBe("healthy");
    expect(r.reason).toContain("Wilson 99 %");
    expect(zForConfidence(0.99)).toBe(Z_99);
    expect(() => zForConfidence(0.8 as 0.9)).toThrow(RangeError);
  });

  it("writes more decimals when 2 would make the bound look equal to the threshold", () => {
    // 40/1000: 2.9511 %; 30/1000: 2.1094 %.
    expect(judge(1_000, 40, { failureRateBasisPoints: 295 }).reason).toBe(
      "Failure rate lower bound 2.951 % (40 of 1,000 attempts, Wilson 95 %) is over the 2.95 % threshold.",
    );
    expect(judge(1_000, 30, { failureRateBasisPoints: 211 }).reason).toBe(
      "Failure rate lower bound 2.109 % (30 of 1,000 attempts, Wilson 95 %) is not over the 2.11 % threshold.",
    );
  });

  it("refuses impossible counts", () => {
    expect(() => judge(10, 11)).toThrow(RangeError);
    expect(() => judge(-1, 0)).toThrow(RangeError);
  });
});

describe("validateHealthPolicy", () => {
  it("fills in the defaults", () => {
    expect(validateHealthPolicy({ failureRateBasisPoints: 100 })).toEqual({
      ok: true,
      policy: { failureRateBasisPoints: 100, ...HEALTH_POLICY_DEFAULTS },
    });
    expect(HEALTH_POLICY_DEFAULTS).toMatchObject({ minAttempts: 20, minFailures: 5, confidence: 0.95 });
  });

  it("accepts a full policy at its bounds", () => {
    const full = {
      failureRateBasisPoints: 10_000,
      minAttempts: 1_000_000,
      minFailures: 0,
      confidence: 0.99,
      action: "notify",
      cooldownMs: 7 * 24 * 60 * MINUTE,
      windowMs: MINUTE,
    };
    expect(validateHealthPolicy(full)).toEqual({ ok: true, policy: full });
    for (const confidence of [0.9, 0.95, 0.99]) expect(validateHealthPolicy({ ...full, confidence }).ok).toBe(true);
    for (const action of ["pause", "end"]) expect(validateHealthPolicy({ ...full, action }).ok).toBe(true);
    expect(validateHealthPolicy({ ...full, minAttempts: 1, windowMs: 7 * 24 * 60 * MINUTE, cooldownMs: 0 }).ok).toBe(
      true,
    );
  });

  it.each<[string, unknown, string]>([
    ["a threshold of 0", { failureRateBasisPoints: 0 }, "/failureRateBasisPoints"],
    ["a threshold over 10000", { failureRateBasisPoints: 10_001 }, "/failureRateBasisPoints"],
    ["a fractional threshold", { failureRateBasisPoints: 1.5 }, "/failureRateBasisPoints"],
    ["a threshold as a string", { failureRateBasisPoints: "100" }, "/failureRateBasisPoints"],
    ["no threshold", { minAttempts: 20 }, "/failureRateBasisPoints"],
    ["minAttempts 0", { failureRateBasisPoints: 100, minAttempts: 0 }, "/minAttempts"],
    ["minAttempts over 1e6", { failureRateBasisPoints: 100, minAttempts: 1_000_001 }, "/minAttempts"],
    ["negative minFailures", { failureRateBasisPoints: 100, minFailures: -1 }, "/minFailures"],
    ["minFailures over 1e6", { failureRateBasisPoints: 100, minFailures: 1_000_001 }, "/minFailures"],
    ["a window under a minute", { failureRateBasisPoints: 100, windowMs: 59_999 }, "/windowMs"],
    ["a window over 7 days", { failureRateBasisPoints: 100, windowMs: 7 * 24 * 60 * MINUTE + MINUTE }, "/windowMs"],
    ["a window of part minutes", { failureRateBasisPoints: 100, windowMs: 90_000 }, "/windowMs"],
    ["a negative cooldown", { failureRateBasisPoints: 100, cooldownMs: -1 }, "/cooldownMs"],
    ["a cooldown over 7 days", { failureRateBasisPoints: 100, cooldownMs: 7 * 24 * 60 * MINUTE + 1 }, "/cooldownMs"],
    ["confidence 0.8", { failureRateBasisPoints: 100, confidence: 0.8 }, "/confidence"],
    ["confidence as a string", { failureRateBasisPoints: 100, confidence: "0.95" }, "/confidence"],
    ["an unknown action", { failureRateBasisPoints: 100, action: "rollback" }, "/action"],
    ["null values", { failureRateBasisPoints: 100, action: null }, "/action"],
    ["an unknown field", { failureRateBasisPoints: 100, stage: "install" }, ""],
    ["an array", [], ""],
    ["null", null, ""],
    ["a number", 100, ""],
  ])("refuses %s", (_, input, pointer) => {
    const r = validateHealthPolicy(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.pointer).toBe(pointer);
    expect(r.errors[0]?.message).toMatch(/^(must|is|only)/);
  });

  it("reports every bad field, without quoting input", () => {
    const r = validateHealthPolicy({
      failureRateBasisPoints: "<script>",
      minAttempts: -5,
      minFailures: 0.5,
      confidence: 2,
      action: "<script>",
      cooldownMs: "soon",
      windowMs: 0,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.pointer).sort()).toEqual([
      "/action",
      "/confidence",
      "/cooldownMs",
      "/failureRateBasisPoints",
      "/minAttempts",
      "/minFailures",
      "/windowMs",
    ]);
    expect(r.errors.length).toBeLessThanOrEqual(MAX_FIELD_ERRORS);
    expect(JSON.stringify(r.errors)).not.toContain("script");
  });
});
