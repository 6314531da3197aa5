import { describe, expect, it } from "vitest";
import { MAX_FIELD_ERRORS } from "../../src/domain/errors";
import {
  type AllowlistEntry,
  compileAllowlistEntries,
  compileStoredListRegexes,
  listRegexCost,
  MAX_EXACT_ENTRIES,
  MAX_LIST_REGEX_COST,
  MAX_REGEX_ENTRIES,
} from "../../src/domain/targeting/allowlist";
import { MAX_PATTERN_REGEX_COST } from "../../src/domain/targeting/rules";

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
    ["lookahead (not RE2 syntax)", [{ value: "^(?=a)", kind: "regex" }], "/0/value"],
    ["NUL in an exact entry", [{ value: "u-1\u0000", kind: "exact" }], "/0/value"],
    ["BEL in a regex entry", [{ value: "^u-\u0007", kind: "regex" }], "/0/value"],
    ["tab", [{ value: "u\t1", kind: "exact" }], "/0/value"],
    ["DEL", [{ value: "u\u007f", kind: "exact" }], "/0/value"],
    ["C1 (NEL)", [{ value: "u\u0085", kind: "exact" }], "/0/value"],
    ["right-to-left override", [{ value: "u-\u202e1", kind: "exact" }], "/0/value"],
    ["Arabic letter mark", [{ value: "u-\u061c", kind: "exact" }], "/0/value"],
    ["right-to-left mark", [{ value: "\u200fu", kind: "regex" }], "/0/value"],
    ["first strong isolate", [{ value: "u\u2068", kind: "exact" }], "/0/value"],
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
    expect(result.ok ? 0 : result.errors.length).toBe(MAX_FIELD_ERRORS);
    expect(MAX_FIELD_ERRORS).toBe(20);
  });

  it("refuses control and bidirectional formatting characters with the message, never the entry", () => {
    const result = compileAllowlistEntries([
      { value: "ok", kind: "exact" },
      { value: `${MARK}\u202e`, kind: "exact" },
    ]);
    expect(result.ok ? [] : result.errors).toEqual([
      {
        pointer: "/1/value",
        message:
          "must not contain control characters (tab included), invisible or bidirectional formatting characters, line or paragraph separators, private-use or unassigned characters",
      },
    ]);
  });

  /** `count` patterns `^a{n}` summing to exactly `total` units (`^a{n}` compiles to n + 3 instructions). */
  function patternsCosting(total: number, count: number): string[] {
    const each = Math.floor(total / count);
    return Array.from({ length: count }, (_, i) => `^a{${(i === count - 1 ? total - each * (count - 1) : each) - 3}}`);
  }

  it(`accepts regex entries costing exactly ${MAX_LIST_REGEX_COST} and refuses one more, at the entry over`, () => {
    const count = Math.ceil(MAX_LIST_REGEX_COST / MAX_PATTERN_REGEX_COST) + 1;
    const at = patternsCosting(MAX_LIST_REGEX_COST, count);
    expect(listRegexCost(at)).toBe(MAX_LIST_REGEX_COST);
    const ok = compileAllowlistEntries(at.map((value) => ({ value, kind: "regex" })));
    expect(ok.ok && ok.matcher.regexCost).toBe(MAX_LIST_REGEX_COST);
    const over = patternsCosting(MAX_LIST_REGEX_COST + 1, count);
    const result = compileAllowlistEntries(over.map((value) => ({ value, kind: "regex" })));
    expect(result.ok ? [] : result.errors).toEqual([
      {
        pointer: `/${count - 1}/value`,
        message: `the list's regex entries would cost ${MAX_LIST_REGEX_COST + 1} regex units, over the limit of ${MAX_LIST_REGEX_COST} per list`,
      },
    ]);
  });
});

/** Stored entries (each accepted alone) that cost more than a list may together. */
function patternsOver(): string[] {
  return Array.from({ length: Math.ceil(MAX_LIST_REGEX_COST / 100) + 1 }, (_, i) => `^${i}a{97}`);
}

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

  it("runs former ReDoS patterns in linear time and answers correctly", () => {
    const redos = matcherOf([
      { value: "^(a+)+$", kind: "regex" },
      { value: "^(a|a){1,30}$", kind: "regex" },
      { value: ".?.?.?.?.?.?.?.?.?Z", kind: "regex" },
    ]);
    expect(redos.has(`${"a".repeat(127)}!`)).toBe(false);
    expect(redos.has("a".repeat(128))).toBe(true);
    expect(redos.has(`${"b".repeat(127)}Z`)).toBe(true);
    expect(redos.has("b".repeat(128))).toBe(false);
  });

  it("compiles stored regex entries for the check path, failing every lookup when they are no longer accepted", () => {
    const [ok] = compileStoredListRegexes(["^qa-"]);
    expect(ok?.test("qa-1")).toBe(true);
    for (const stored of [["^qa-", "(?=x)"], patternsOver()]) {
      const refused = compileStoredListRegexes(stored);
      expect(refused).toHaveLength(1);
      expect(() => refused[0]?.test("qa-1")).toThrow();
    }
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
