import { describe, expect, it } from "vitest";
import { approvalContent, sameApartFromRollout } from "../../src/domain/approval";

const base = { versionId: "ver_1", appId: "app_1", environmentId: "env_1", config: {}, updateMode: "default" };

describe("approval content", () => {
  it("ignores the rollout: a targeting of only a percentage is no targeting", () => {
    const none = approvalContent({ ...base, targeting: null });
    expect(approvalContent({ ...base, targeting: { percentage: { basisPoints: 100 } } })).toBe(none);
    expect(approvalContent({ ...base, targeting: {} })).toBe(none);
    const ruled = { rules: [{ attribute: "country", operator: "include", values: ["SG"] }] };
    expect(approvalContent({ ...base, targeting: { ...ruled, percentage: { basisPoints: 5 } } })).toBe(
      approvalContent({ ...base, targeting: ruled }),
    );
    expect(approvalContent({ ...base, targeting: ruled })).not.toBe(none);
    expect(sameApartFromRollout({ percentage: { basisPoints: 1 } }, null)).toBe(true);
    expect(sameApartFromRollout(ruled, null)).toBe(false);
  });

  it("is independent of key order and changes with the configuration and update mode", () => {
    const a = approvalContent({ ...base, config: { switches: { a: "1", b: "2" } }, targeting: null });
    const b = approvalContent({ ...base, config: { switches: { b: "2", a: "1" } }, targeting: null });
    expect(a).toBe(b);
    expect(approvalContent({ ...base, updateMode: "sync", targeting: null })).not.toBe(
      approvalContent({ ...base, targeting: null }),
    );
  });
});
