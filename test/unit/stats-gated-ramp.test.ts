import { describe, expect, it } from "vitest";
import { dueSteps, gatedTargeting, nextStepDue, pendingSteps } from "../../src/domain/stats/gated-ramp";
import { compileTargeting } from "../../src/domain/targeting/evaluate";

const ramp = [
  { at: 1000, basisPoints: 1000 },
  { at: 2000, basisPoints: 5000 },
  { at: 3000, basisPoints: 10_000 },
];
const targeting = {
  rules: [{ attribute: "brand", operator: "include", values: ["acme"] }],
  percentage: { basisPoints: 100, ramp },
};

describe("gated ramps", () => {
  it("deliver only the committed steps, and no ramp before the first", () => {
    expect(gatedTargeting(targeting, 0)).toEqual({ ...targeting, percentage: { basisPoints: 100, ramp: null } });
    expect(gatedTargeting(targeting, 2)).toEqual({
      ...targeting,
      percentage: { basisPoints: 100, ramp: ramp.slice(0, 2) },
    });
    expect(gatedTargeting(targeting, 3)).toEqual(targeting);
    // What delivery gets still compiles.
    for (const n of [0, 1, 2, 3]) expect(compileTargeting(gatedTargeting(targeting, n)).ok).toBe(true);
  });

  it("leave a targeting without a ramp, or none, as it is", () => {
    const flat = { percentage: { basisPoints: 300 } };
    expect(gatedTargeting(flat, 0)).toBe(flat);
    expect(gatedTargeting(null, 0)).toBeNull();
    expect(nextStepDue(flat, 0, 10_000)).toBeNull();
    expect(dueSteps(null, 10_000)).toBe(0);
  });

  it("name the next step due, one at a time", () => {
    expect(nextStepDue(targeting, 0, 999)).toBeNull();
    expect(nextStepDue(targeting, 0, 1000)).toBe(0);
    expect(nextStepDue(targeting, 1, 1500)).toBeNull();
    expect(nextStepDue(targeting, 1, 5000)).toBe(1);
    expect(nextStepDue(targeting, 3, 5000)).toBeNull();
    expect(dueSteps(targeting, 2500)).toBe(2);
    expect(pendingSteps(targeting, 1)).toEqual(ramp.slice(1));
  });
});
