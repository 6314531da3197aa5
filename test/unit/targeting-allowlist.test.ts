import { describe, expect, it } from "vitest";
import {
  type AllowlistEntry,
  compileAllowlistEntries,
  MAX_EXACT_ENTRIES,
  MAX_REGEX_ENTRIES,
} from "../../src/domain/targeting/allowlist";

const MARK = "ECHO-MARK-51c9";

function matcherOf(entries: AllowlistEntry[]) {
  const result = compileAllowlistEntries(entries);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.matcher;
}

describe("compileAllowlistEntries errors", () => {
  it.each<[string, unknown[], string]>([
    ["entry not an object", [MARK], "/0"],
    ["unknown kind", [{ value: "a", kind: MARK }], "/0/kind"],
    ["missing kind", [{ value: "a" }], "/0/kind"],
    [
      "empty value",
      [
        { value: "a", kind: "exact" },
        { value: "", kind: "exact" },
      ],
      "/1/value",
    ],
    ["non-string value", [{ value: 7, kind: "exact" }], "/0/value"],
    ["value too long", [{ value: MARK.repeat(20), kind: "exact" }], "/0/value"],
    ["invalid regex", [{ value: "([", kind: "regex" }], "/0/value"],
    ["catastrophic regex", [{ value: "^(a+)+$", kind: "regex" }], "/0/value"],
    ["backreference", [{ value: "(a)\\1", kind: "regex" }], "/0/value"],
  ])("%s → %s", (_name, entries, pointer) => {
    const result = compileAllowlistEntries(entries as AllowlistEntry[]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.pointer)).toContain(pointer);
    for (const e of result.errors) {
      expect(e.message).not.toContain(MARK);
      expect(e.message).not.toContain("(a+)+");
    }
  });

  it("rejects input that is not an array", () => {
    expect(compileAllowlistEntries(MARK as unknown as AllowlistEntry[]).ok).toBe(false);
  });

  it(`allows ${MAX_REGEX_ENTRIES} regex entries and points at the one after`, () => {
    const entries = Array.from({ length: MAX_REGEX_ENTRIES + 1 }, (_, i) => ({
      value: `^r${i}-`,
      kind: "regex" as const,
    }));
    expect(compileAllowlistEntries(entries.slice(0, MAX_REGEX_ENTRIES)).ok).toBe(true);
    const result = compileAllowlistEntries(entries);
    expect(result.ok ? [] : result.errors).toEqual([
      { pointer: `/${MAX_REGEX_ENTRIES}/kind`, message: `a list holds at most ${MAX_REGEX_ENTRIES} regex entries` },
    ]);
  });

  it("caps the number of errors", () => {
    const entries = Array.from({ length: 1000 }, () => ({ value: "", kind: "exact" as const }));
    const result = compileAllowlistEntries(entries);
    expect(result.ok ? 0 : result.errors.length).toBe(100);
  });
});

describe("allowlist matching", () => {
  const m = matcherOf([
    { value: "u-1", kind: "exact" },
    { value: "u-1", kind: "exact" },
    { value: "U-2", kind: "exact" },
    { value: "^qa-[0-9]+$", kind: "regex" },
    { value: "tester", kind: "regex" },
  ]);

  it.each([
    ["u-1", true],
    ["u-2", false],
    ["U-2", true],
    ["u-10", false],
    ["qa-17", true],
    ["qa-17x", false],
    ["QA-17", false],
    ["beta-tester-9", true],
    ["", false],
  ])("%s → %s", (id, expected) => {
    expect(m.has(id)).toBe(expected);
  });

  it("counts distinct exact entries and regex entries", () => {
    expect(m.exactCount).toBe(2);
    expect(m.regexCount).toBe(2);
  });

  it("does not run regex entries against ids over 128 characters", () => {
    expect(m.has(`qa-${"1".repeat(125)}`)).toBe(true);
    expect(m.has(`qa-${"1".repeat(126)}`)).toBe(false);
    expect(matcherOf([{ value: "x".repeat(256), kind: "exact" }]).has("x".repeat(256))).toBe(true);
  });

  it("never throws on a non-string id", () => {
    expect(m.has(undefined as unknown as string)).toBe(false);
  });
});

describe(`a ${MAX_EXACT_ENTRIES.toLocaleString("en")}-entry list`, () => {
  it("is built and looked up", () => {
    const ids = Array.from(
      { length: MAX_EXACT_ENTRIES + 100_000 },
      (_, i) => `dev-${(i * 2654435761) % 4294967296}-${i}`,
    );
    const entries: AllowlistEntry[] = ids.slice(0, MAX_EXACT_ENTRIES).map((value) => ({ value, kind: "exact" }));
    entries.push({ value: "^canary-", kind: "regex" });
    const m = matcherOf(entries);
    expect(m.exactCount).toBe(MAX_EXACT_ENTRIES);
    let hits = 0;
    for (let i = 0; i < MAX_EXACT_ENTRIES; i += 7) if (m.has(ids[i] ?? "")) hits++;
    expect(hits).toBe(Math.ceil(MAX_EXACT_ENTRIES / 7));
    let misses = 0;
    for (let i = MAX_EXACT_ENTRIES; i < ids.length; i++) if (!m.has(ids[i] ?? "")) misses++;
    expect(misses).toBe(100_000);
    expect(m.has("canary-1")).toBe(true);
  });

  it("refuses a longer list before looking at its entries", () => {
    const tooLong = new Array<AllowlistEntry>(MAX_EXACT_ENTRIES + MAX_REGEX_ENTRIES + 1);
    const result = compileAllowlistEntries(tooLong);
    expect(result.ok ? [] : result.errors.map((e) => e.pointer)).toEqual([""]);
  });
});
