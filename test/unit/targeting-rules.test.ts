import semver from "semver";
import { describe, expect, it, vi } from "vitest";
import { MAX_FIELD_ERRORS } from "../../src/domain/errors";
import { inRange } from "../../src/domain/semver";
import { compileStoredListRegexes } from "../../src/domain/targeting/allowlist";
import { compileTargeting, stickyIdFor } from "../../src/domain/targeting/evaluate";
import {
  type CompiledRule,
  type CompileError,
  comparePrerelease,
  compileRegex,
  compileRules,
  type DeviceProfile,
  MAX_PATTERN_REGEX_COST,
  MAX_RELEASE_REGEX_COST,
  MAX_RULE_REGEX_COST,
  MAX_RULES,
  matchRule,
} from "../../src/domain/targeting/rules";

/** A value that must never come back in an error message. */
const MARK = "ECHO-MARK-7f3a";

function errorsOf(input: unknown): CompileError[] {
  const result = compileRules(input);
  if (result.ok) throw new Error("expected errors");
  return result.errors;
}

function expectNoEcho(errors: readonly CompileError[]): void {
  for (const e of errors) {
    expect(e.message).not.toContain(MARK);
    expect(e.message).not.toContain("(a+)+");
  }
}

const rule = (attribute: unknown, operator: unknown, values: unknown) => ({ attribute, operator, values });

describe("compileRules errors", () => {
  it.each<[string, unknown, string]>([
    ["not an array", { attribute: "brand" }, ""],
    ["too many rules", Array.from({ length: MAX_RULES + 1 }, () => rule("brand", "include", ["x"])), ""],
    ["rule not an object", [MARK], "/0"],
    ["unknown rule field", [{ ...rule("brand", "include", ["x"]), [MARK]: 1 }], "/0"],
    ["unknown attribute", [rule(MARK, "include", ["x"])], "/0/attribute"],
    ["bad custom name", [rule(`custom:${MARK} !`, "include", ["x"])], "/0/attribute"],
    ["empty custom name", [rule("custom:", "include", ["x"])], "/0/attribute"],
    ["unknown operator", [rule("brand", MARK, ["x"])], "/0/operator"],
    ["prototype operator", [rule("brand", "toString", ["x"])], "/0/operator"],
    ["ordered operator on a text attribute", [rule("city", "inRange", [{ min: 1 }])], "/0/operator"],
    ["semver on a text attribute", [rule("brand", "semver", ["*"])], "/0/operator"],
    ["values not an array", [rule("brand", "include", MARK)], "/0/values"],
    ["empty values", [rule("brand", "include", [])], "/0/values"],
    [
      "too many values",
      [
        rule(
          "brand",
          "include",
          Array.from({ length: 1001 }, (_, i) => `v${i}`),
        ),
      ],
      "/0/values",
    ],
    ["non-string value", [rule("brand", "include", ["ok", 5])], "/0/values/1"],
    ["empty string value", [rule("brand", "prefix", [""])], "/0/values/0"],
    ["value too long", [rule("brand", "include", [MARK.repeat(40)])], "/0/values/0"],
    ["range not an object", [rule("appVersion", "inRange", [MARK])], "/0/values/0"],
    ["range without bounds", [rule("appVersion", "inRange", [{}])], "/0/values/0"],
    ["range with unknown field", [rule("appVersion", "inRange", [{ min: "1", [MARK]: 2 }])], "/0/values/0"],
    ["bad version bound", [rule("appVersion", "inRange", [{ min: MARK }])], "/0/values/0/min"],
    ["non-finite bound", [rule("custom:n", "outOfRange", [{ max: Number.NaN }])], "/0/values/0/max"],
    ["min not below max", [rule("appVersion", "inRange", [{ min: "2.0", max: "2" }])], "/0/values/0/max"],
    ["mixed bound kinds", [rule("custom:n", "inRange", [{ min: 1, max: "2.0" }])], "/0/values/0"],
    ["mixed range kinds", [rule("custom:n", "inRange", [{ min: 1 }, { min: "2.0" }])], "/0/values/1"],
    ["bad semver range", [rule("appVersion", "semver", [`>=${MARK}`])], "/0/values/0"],
    ["invalid regex", [rule("model", "regex", ["(unclosed"])], "/0/values/0"],
    ["lookahead (not RE2 syntax)", [rule("model", "regex", ["ok", "^(?=a)"])], "/0/values/1"],
    ["second rule", [rule("brand", "include", ["x"]), rule("brand", "include", [1])], "/1/values/0"],
  ])("%s → %s", (_name, input, pointer) => {
    const errors = errorsOf(input);
    expect(errors.map((e) => e.pointer)).toContain(pointer);
    expectNoEcho(errors);
  });

  it("caps the number of errors", () => {
    const many = Array.from({ length: MAX_RULES }, () =>
      rule(
        "brand",
        "include",
        Array.from({ length: 10 }, () => 1),
      ),
    );
    expect(errorsOf(many)).toHaveLength(MAX_FIELD_ERRORS);
    expect(MAX_FIELD_ERRORS).toBe(20);
  });

  it("stops at 20 errors in compileTargeting too", () => {
    const rules = Array.from({ length: MAX_RULES }, () => rule("model", "regex", ["(", "[", "\\"]));
    const result = compileTargeting({ rules, stickyKey: MARK, percentage: { basisPoints: -1 } });
    expect(result.ok ? [] : result.errors).toHaveLength(20);
  });

  it("keeps the normalized source rule next to the matcher", () => {
    const ok = compileRules([rule("brand", "include", ["Xiaomi"])]);
    expect(ok.ok && ok.rules[0]?.rule).toEqual({ attribute: "brand", operator: "include", values: ["Xiaomi"] });
  });
});

describe("semver operator", () => {
  const ranges = [
    "*",
    ">=8.2.0 <9",
    "^8.1",
    "~8.2.1",
    "8.x",
    "<=8.2.1",
    ">8.2.1",
    "=8.2.1",
    "8.2.1 - 8.3",
    "<8 || >=9.1.0-beta",
    ">=1.2.3-rc.1 <1.2.4",
    "^0.0.3",
    "1.2.3-alpha.10",
  ];
  const versions = [
    "0.0.3",
    "1.2.3-alpha.2",
    "1.2.3-alpha.10",
    "1.2.3-rc.1",
    "1.2.3",
    "1.2.4-0",
    "7.9.9",
    "8.0.0",
    "8.1.0",
    "8.2.0",
    "8.2.1",
    "8.2.1-beta",
    "8.2.2",
    "8.3.0",
    "8.3.9",
    "9.0.0-alpha",
    "9.1.0-beta",
    "9.1.0",
    "10.0.0",
  ];

  it("agrees with semver.satisfies (includePrerelease) on every range × version", () => {
    for (const range of ranges) {
      const result = compileRules([rule("appVersion", "semver", [range])]);
      if (!result.ok) throw new Error(`range ${range} should compile`);
      const [compiled] = result.rules;
      if (compiled === undefined) throw new Error("one rule");
      for (const version of versions) {
        const profile = { appVersion: version, custom: {} } as unknown as DeviceProfile;
        expect([range, version, matchRule(compiled, profile).match]).toEqual([range, version, inRange(version, range)]);
      }
    }
  });
});

describe("regex patterns (RE2: linear time)", () => {
  const profileWith = (model: string, custom: Record<string, string> = {}) =>
    ({ model, custom }) as unknown as DeviceProfile;
  function compiled(values: string[], attribute = "model") {
    const result = compileRules([rule(attribute, "regex", values)]);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const [c] = result.rules;
    if (c === undefined) throw new Error("one rule");
    return c;
  }

  it.each([
    "^redmi",
    "note \\d+$",
    "^(ios|android)$",
    "^[a-z0-9-]{1,32}$",
    "^\\p{L}+$",
    "^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$",
    "(?:ab)+c",
    "(?<tier>gold|silver)",
    "(?P<tier>gold|silver)",
    "[(+*]+",
    "\\(a+\\)",
    "^Redmi Note \\d+( Pro)?$",
    "^(iPhone|iPad)\\d{1,2},\\d{1,2}$",
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    // Refused by the old backtracking guard, harmless on RE2.
    "(a+)+$",
    "^(a|a){1,30}$",
    ".?.?.?.?.?.?.?.?.?Z",
    "a*a*b",
    ".*x.*y",
  ])("accepts %s", (pattern) => {
    expect(compileRegex(pattern, false).ok).toBe(true);
  });

  it.each([
    ["^(?=.*x)", "not valid RE2 syntax: it uses syntax RE2 does not support"],
    ["(?<!a)b", "not valid RE2 syntax"],
    ["(a)\\1", "backreferences"],
    ["(?<x>a)\\k<x>", "not valid RE2 syntax"],
    ["\\u0041", "\\x{XXXX}"],
    ["a{1001}", "repetition bounds that are out of order or over 1000"],
    ["a{5,2}", "repetition bounds"],
    ["(a+){1000000}", "repetition bounds"],
    ["(?:a{3000000000,2999999999})?.*a", "repetition bounds"],
    ["(", "unbalanced parenthesis"],
    ["[a-", "unclosed character class"],
    ["\\", "ends with a backslash"],
    ["a**", "repetition of a repetition"],
    ["x".repeat(257), "longer than 256"],
    ["", "empty"],
  ])("refuses %s", (pattern, fragment) => {
    const result = compileRegex(pattern, false);
    expect(result.ok ? "" : result.message).toContain(fragment);
    if (!result.ok && pattern.length > 3) expect(result.message).not.toContain(pattern);
  });

  it("refuses RE2-incompatible syntax through compileRules with the value's pointer", () => {
    expect(errorsOf([rule("model", "regex", ["^ok$", "(?!x)y"])])).toEqual([
      {
        pointer: "/0/values/1",
        message:
          "pattern is not valid RE2 syntax: it uses syntax RE2 does not support (lookahead, lookbehind or other Perl-only groups)",
      },
    ]);
  });

  // The former ReDoS patterns on their evil subjects: correct answers (no timing assertion: RE2 is
  // linear by construction, and a backtracking engine would not return here for minutes).
  it.each([
    ["^(a|a){1,30}$", "a".repeat(30), true],
    ["^(a|a){1,30}$", `${"a".repeat(29)}!`, false],
    ["(a+)+$", `${"a".repeat(127)}!`, false],
    ["(a+)+$", "a".repeat(128), true],
    ["^(a+)+$", `${"a".repeat(127)}!`, false],
    [".?.?.?.?.?.?.?.?.?Z", "a".repeat(128), false],
    [".?.?.?.?.?.?.?.?.?Z", `${"a".repeat(127)}Z`, true],
    ["^(\\w+\\s?)*$", `${"ab ".repeat(42)}a!`, false],
    ["(?:a|b)*a[ab]{40}b", `${"ab".repeat(63)}bb`, true],
    ["(?:a|b)*a[ab]{40}b", "b".repeat(128), false],
    ["a*a*a*a*a*a*b", "a".repeat(128), false],
  ])("%s on an adversarial subject matches correctly", (pattern, subject, expected) => {
    const c = compiled([pattern]);
    expect(matchRule(c, profileWith(subject)).reason).toBe(expected ? "MATCHED" : "NOT_MATCHED");
  });

  it("searches unanchored, case-insensitively for unordered built-ins only, and caps the subject length", () => {
    expect(matchRule(compiled(["note \\d+"]), profileWith("Redmi NOTE 12")).match).toBe(true);
    const custom = compiled(["note \\d+"], "custom:model");
    expect(matchRule(custom, profileWith("", { model: "Redmi NOTE 12" })).match).toBe(false);
    expect(matchRule(custom, profileWith("", { model: "Redmi note 12" })).match).toBe(true);
    expect(matchRule(compiled(["a$"]), profileWith("a".repeat(128))).reason).toBe("MATCHED");
    expect(matchRule(compiled(["a$"]), profileWith("a".repeat(129))).reason).toBe("BAD_VALUE");
    // Unicode: a lone surrogate and astral characters are subjects like any other.
    expect(matchRule(compiled(["^\\p{L}+$"]), profileWith("\ud800")).match).toBe(false);
    expect(matchRule(compiled(["^.$"]), profileWith("😀")).match).toBe(true);
  });

  it("prices a pattern by its compiled program, Unicode classes included", () => {
    const cost = (p: string) => {
      const r = compileRegex(p, false);
      if (!r.ok) throw new Error(r.message);
      return r.cost;
    };
    expect(cost("x")).toBe(3);
    expect(cost("abc")).toBeLessThan(cost("abcdef"));
    expect(cost("\\p{L}")).toBeGreaterThan(40);
    expect(cost("(?i)\\p{L}")).toBeGreaterThan(40);
  });

  it(`accepts a pattern costing exactly ${MAX_PATTERN_REGEX_COST} and refuses one more`, () => {
    // `a{n}` compiles to n + 2 instructions.
    const at = `a{${MAX_PATTERN_REGEX_COST - 2}}`;
    const over = `a{${MAX_PATTERN_REGEX_COST - 1}}`;
    expect(compileRegex(at, false)).toMatchObject({ ok: true, cost: MAX_PATTERN_REGEX_COST });
    expect(errorsOf([rule("model", "regex", [over])])).toEqual([
      {
        pointer: "/0/values/0",
        message: `pattern costs ${MAX_PATTERN_REGEX_COST + 1} regex units, over the limit of ${MAX_PATTERN_REGEX_COST} per pattern: make it shorter or use narrower repetitions`,
      },
    ]);
  });

  /** Patterns `a{n}` (n + 2 units each) summing to exactly `total` units. */
  function patternsCosting(total: number): string[] {
    const out: string[] = [];
    let left = total;
    while (left > 0) {
      const c = Math.min(left, MAX_PATTERN_REGEX_COST);
      if (left - c > 0 && left - c < 3) {
        out.push(`a{${c - 3 - 2}}`); // leave at least 3 for the last one (the smallest program)
        left -= c - 3;
      } else {
        out.push(c === 3 ? "a" : `a{${c - 2}}`);
        left -= c;
      }
    }
    return out;
  }

  it(`accepts a rule costing exactly ${MAX_RULE_REGEX_COST} and refuses one more`, () => {
    expect(compileRules([rule("model", "regex", patternsCosting(MAX_RULE_REGEX_COST))]).ok).toBe(true);
    expect(errorsOf([rule("model", "regex", patternsCosting(MAX_RULE_REGEX_COST + 1))])).toEqual([
      {
        pointer: "/0/values",
        message: `the rule's patterns cost more than ${MAX_RULE_REGEX_COST} regex units, the limit per rule`,
      },
    ]);
  });

  it(`accepts rules costing exactly ${MAX_RELEASE_REGEX_COST} together and refuses one more`, () => {
    const full = Math.floor(MAX_RELEASE_REGEX_COST / MAX_RULE_REGEX_COST);
    const rest = MAX_RELEASE_REGEX_COST - full * MAX_RULE_REGEX_COST;
    const rules = (extra: number) => [
      ...Array.from({ length: full }, (_, i) => rule(`custom:r${i}`, "regex", patternsCosting(MAX_RULE_REGEX_COST))),
      ...(rest + extra > 0 ? [rule("custom:last", "regex", patternsCosting(rest + extra))] : []),
    ];
    expect(compileRules(rules(0)).ok).toBe(true);
    const result = compileTargeting({ rules: rules(3) });
    expect(result.ok ? [] : result.errors).toEqual([
      {
        pointer: "/rules",
        message: `the rules' patterns cost more than ${MAX_RELEASE_REGEX_COST} regex units, the limit per release`,
      },
    ]);
  });

  it("compiles stored list patterns that are no longer accepted to a matcher that fails (closed) when used", () => {
    expect(compileStoredListRegexes(["^qa-"])[0]?.test("qa-1")).toBe(true);
    expect(() => compileStoredListRegexes(["^qa-", "^(?=qa)"])[0]?.test("qa-1")).toThrow();
    expect(() => compileStoredListRegexes([`a{${MAX_PATTERN_REGEX_COST}}`])[0]?.test("a")).toThrow();
  });
});

describe("compileTargeting errors", () => {
  const ok = { percentage: { basisPoints: 100 } };
  const day = 86_400_000;
  it.each<[string, unknown, string]>([
    ["not an object", [MARK], ""],
    ["unknown field", { ...ok, [MARK]: 1 }, ""],
    ["nothing admits anyone", { denylists: [{ kind: "user", listId: "d" }] }, ""],
    ["lists not an array", { allowlists: MARK }, "/allowlists"],
    ["bad list kind", { allowlists: [{ kind: MARK, listId: "a" }] }, "/allowlists/0/kind"],
    ["empty list id", { denylists: [{ kind: "user", listId: "" }], ...ok }, "/denylists/0/listId"],
    ["rule error", { rules: [rule("brand", MARK, ["x"])] }, "/rules/0/operator"],
    ["rules not an array", { rules: MARK }, "/rules"],
    ["percentage above 10000", { percentage: { basisPoints: 10001 } }, "/percentage/basisPoints"],
    ["percentage not an integer", { percentage: { basisPoints: 12.5 } }, "/percentage/basisPoints"],
    [
      "ramp step below base",
      { percentage: { basisPoints: 500, ramp: [{ at: 1, basisPoints: 400 }] } },
      "/percentage/ramp/0/basisPoints",
    ],
    [
      "ramp unsorted",
      {
        percentage: {
          basisPoints: 0,
          ramp: [
            { at: 5, basisPoints: 1 },
            { at: 4, basisPoints: 2 },
          ],
        },
      },
      "/percentage/ramp/1/at",
    ],
    ["window not an object", { timeWindow: MARK }, "/timeWindow"],
    ["window longer than 7 days", { timeWindow: { startsAt: 0, endsAt: 7 * day + 1, cap: 5 } }, "/timeWindow/endsAt"],
    ["window ends before it starts", { timeWindow: { startsAt: 10, endsAt: 10, cap: 5 } }, "/timeWindow/endsAt"],
    ["window start not a timestamp", { timeWindow: { startsAt: MARK, endsAt: 10, cap: 5 } }, "/timeWindow/startsAt"],
    ["cap below 1", { timeWindow: { startsAt: 0, endsAt: 10, cap: 0 } }, "/timeWindow/cap"],
    ["cap above 100,000", { timeWindow: { startsAt: 0, endsAt: 10, cap: 100_001 } }, "/timeWindow/cap"],
    ["bad sticky key", { ...ok, stickyKey: MARK }, "/stickyKey"],
  ])("%s → %s", (_name, input, pointer) => {
    const result = compileTargeting(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.pointer)).toContain(pointer);
    expectNoEcho(result.errors);
  });

  it("accepts a window of exactly 7 days and defaults the sticky key to auto (user id, else device id)", () => {
    const result = compileTargeting({ timeWindow: { startsAt: 0, endsAt: 7 * day, cap: 1 } });
    expect(result.ok && result.targeting.stickyKey).toBe("auto");
    expect(compileTargeting({ timeWindow: { startsAt: 0, endsAt: 7 * day, cap: 100_000 } }).ok).toBe(true);
    if (!result.ok) return;
    expect(stickyIdFor(result.targeting, { userId: "u-1", deviceId: "d-1" })).toBe("u-1");
    expect(stickyIdFor(result.targeting, { userId: null, deviceId: "d-1" })).toBe("d-1");
    const device = compileTargeting({ percentage: { basisPoints: 1 }, stickyKey: "device" });
    expect(device.ok && stickyIdFor(device.targeting, { userId: "u-1", deviceId: "d-1" })).toBe("d-1");
  });
});

describe("prerelease precedence", () => {
  it("orders prerelease identifiers exactly as semver does", () => {
    const pres = [
      "0",
      "1",
      "2",
      "10",
      "alpha",
      "alpha.1",
      "alpha.2",
      "alpha.10",
      "alpha.beta",
      "beta",
      "beta.2",
      "beta.11",
      "rc.1",
      "rc1",
      "a-b",
      "1.a",
      "a.1.1",
      "-",
      "Z",
      "z",
    ];
    for (const a of pres) {
      for (const b of pres) {
        expect(Math.sign(comparePrerelease(a, b)), `${a} vs ${b}`).toBe(semver.compare(`0.0.0-${a}`, `0.0.0-${b}`));
      }
    }
  });
});

describe("refusing large regex targeting does bounded work", () => {
  it("stops compiling patterns once the request has as many errors as it reports, or a rule is over budget", async () => {
    const { RE2JS } = await import("re2js");
    const spy = vi.spyOn(RE2JS, "compile");
    try {
      // 50 rules of 1,000 patterns each that RE2 compiles but refuses on cost (x{1000}).
      const refused = Array.from({ length: 50 }, (_, i) => ({
        attribute: `custom:a${i}`,
        operator: "regex",
        values: Array.from({ length: 1000 }, () => "x{1000}"),
      }));
      const r1 = compileTargeting({ rules: refused });
      expect(r1.ok).toBe(false);
      expect(r1.ok ? 0 : r1.errors.length).toBe(MAX_FIELD_ERRORS);
      expect(spy.mock.calls.length).toBe(MAX_FIELD_ERRORS);
      spy.mockClear();
      // Accepted patterns of 100 units each: the first rule passes its budget at the sixth.
      const costly = Array.from({ length: 50 }, (_, i) => ({
        attribute: `custom:b${i}`,
        operator: "regex",
        values: Array.from({ length: 1000 }, (_, k) => `a{${98}}${k}`.slice(0, 7)),
      }));
      expect(compileTargeting({ rules: costly }).ok).toBe(false);
      expect(spy.mock.calls.length).toBeLessThanOrEqual(MAX_FIELD_ERRORS * 6);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("regex rule outcomes", () => {
  it("are cached per rule and value across checks, and stay correct past the cache's size", async () => {
    const { RE2JS } = await import("re2js");
    const spy = vi.spyOn(RE2JS.prototype, "test");
    try {
      const compiled = compileRules([rule("custom:tier", "regex", ["^gold-[0-9]+$", "^vip$"])]);
      if (!compiled.ok) throw new Error("did not compile");
      const [r] = compiled.rules as [CompiledRule];
      expect(r.test("gold-12")).toBe("MATCHED");
      const runs = spy.mock.calls.length;
      expect(r.test("gold-12")).toBe("MATCHED");
      expect(spy.mock.calls.length).toBe(runs);
      for (let i = 0; i < 10_000; i++)
        expect(r.test(i % 2 ? `gold-${i}` : `silver-${i}`)).toBe(i % 2 ? "MATCHED" : "NOT_MATCHED");
      expect(r.test("vip")).toBe("MATCHED");
      expect(r.test("VIP")).toBe("NOT_MATCHED");
    } finally {
      spy.mockRestore();
    }
  });
});
