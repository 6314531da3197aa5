import { describe, expect, it } from "vitest";
import {
  RELEASE_STATUSES,
  REQUESTABLE_STATUSES,
  type ReleaseStatus,
  supersession,
  transition,
} from "../../src/domain/release-status";
import { rangeCovers } from "../../src/domain/semver";

const allowed: Record<ReleaseStatus, string[]> = {
  created: ["in_review", "cancelled"],
  in_review: ["approved", "rejected"],
  rejected: ["created", "cancelled"],
  approved: ["canary", "full", "cancelled"],
  canary: ["full", "paused", "ended"],
  full: ["paused", "ended"],
  paused: ["ended"], // plus the status it was paused from, checked below
  ended: [],
  archived: [],
  cancelled: [],
};

describe("release status machine", () => {
  const cases = RELEASE_STATUSES.flatMap((from) => REQUESTABLE_STATUSES.map((to) => [from, to] as const));
  it.each(cases)("%s → %s follows the release lifecycle (docs/overview.md)", (from, to) => {
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

describe("supersession: what going full archives", () => {
  const r = (id: string, seq: number, compat = "*", version = `1.${seq}.0`) => ({ id, seq, compat, version });
  it("archives older full releases whose audience the new one covers, and refuses over a newer one", () => {
    expect(supersession(r("new", 5), [r("a", 1), r("b", 3)], rangeCovers)).toEqual({
      refused: false,
      archive: ["a", "b"],
    });
    expect(supersession(r("new", 5, ">=9.0.0"), [r("a", 1, ">=8.0.0"), r("b", 3, "^9.1.0")], rangeCovers)).toEqual({
      refused: false,
      archive: ["b"],
    });
    expect(supersession(r("old", 2), [r("a", 1), r("newer", 3)], rangeCovers)).toEqual({
      refused: true,
      by: r("newer", 3),
    });
    // A newer release for other host apps does not stop an older one, and is never archived by it.
    expect(supersession(r("old8", 2, "<9.0.0"), [r("new9", 3, ">=9.0.0")], rangeCovers)).toEqual({
      refused: false,
      archive: [],
    });
    expect(supersession(r("oldAll", 2, "*"), [r("new9", 3, ">=9.0.0")], rangeCovers)).toEqual({
      refused: false,
      archive: [],
    });
    // A later release of a lower version is newer: it supersedes (devices on the higher one keep it).
    expect(supersession(r("low", 4, "*", "1.0.0"), [r("high", 3)], rangeCovers)).toEqual({
      refused: false,
      archive: ["high"],
    });
  });

  it.each([
    ["*", ">=8.0.0", true],
    [">=8.0.0", "*", false],
    [">=7.0.0", ">=8.0.0 <9.0.0", true],
    [">=8.0.0 <9.0.0", ">=7.0.0", false],
    ["^8.0.0", "~8.2.0", true],
    [">=8.0.0", ">=8.0.0", true],
    ["not a range", ">=8.0.0", false],
  ])("rangeCovers(%s, %s) = %s", (range, old, expected) => {
    expect(rangeCovers(range, old)).toBe(expected);
  });
});
