import { describe, expect, it } from "vitest";
import {
  RELEASE_STATUSES,
  REQUESTABLE_STATUSES,
  type ReleaseStatus,
  transition,
} from "../../src/domain/release-status";

const allowed: Record<ReleaseStatus, string[]> = {
  created: ["in_review", "cancelled"],
  in_review: ["approved", "rejected"],
  rejected: ["created", "cancelled"],
  approved: ["canary", "full"],
  canary: ["full", "paused", "ended"],
  full: ["paused", "ended"],
  paused: ["ended"], // plus the status it was paused from, checked below
  ended: [],
  archived: [],
  cancelled: [],
};

describe("release status machine", () => {
  const cases = RELEASE_STATUSES.flatMap((from) => REQUESTABLE_STATUSES.map((to) => [from, to] as const));
  it.each(cases)("%s → %s follows PRODUCT.md", (from, to) => {
    const pausedFrom = from === "paused" ? "canary" : null;
    const result = transition({ status: from, pausedFrom }, to, "because");
    const expected = allowed[from].includes(to) || (from === "paused" && to === "canary");
    expect(result.ok).toBe(expected);
  });

  it("remembers where a paused release came from and continues only there", () => {
    const paused = transition({ status: "full", pausedFrom: null }, "paused", null);
    expect(paused).toEqual({ ok: true, next: { status: "paused", pausedFrom: "full" } });
    expect(transition({ status: "paused", pausedFrom: "full" }, "canary", null)).toEqual({
      ok: false,
      reason: "continue_mismatch",
    });
    expect(transition({ status: "paused", pausedFrom: "full" }, "full", null)).toEqual({
      ok: true,
      next: { status: "full", pausedFrom: null },
    });
  });

  it("needs a reason to reject", () => {
    expect(transition({ status: "in_review", pausedFrom: null }, "rejected", null)).toEqual({
      ok: false,
      reason: "reason_required",
    });
    expect(transition({ status: "in_review", pausedFrom: null }, "rejected", "  ")).toMatchObject({ ok: false });
    expect(transition({ status: "in_review", pausedFrom: null }, "rejected", "typo in config").ok).toBe(true);
  });
});
