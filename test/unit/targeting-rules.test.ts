import semver from "semver";
import { describe, expect, it } from "vitest";
import { inRange } from "../../src/domain/semver";
import { compileTargeting, stickyIdFor } from "../../src/domain/targeting/evaluate";
import {
  type CompileError,
  comparePrerelease,
  compileRules,
  type DeviceProfile,
  MAX_RULES,
  matchRule,
  regexSafetyProblem,
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
    ["catastrophic regex", [rule("model", "regex", ["ok", "(a+)+$"])], "/0/values/1"],
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
    expect(errorsOf(many)).toHaveLength(100);
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

describe("regex safety", () => {
  it.each([
    "^redmi",
    "note \\d+$",
    "^(ios|android)$",
    "^[a-z0-9-]{1,32}$",
    "^\\p{L}+$",
    "^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$",
    "(?:ab)+c",
    "(?<tier>gold|silver)",
    "^(?=.*x)",
    "[(+*]+",
    "\\(a+\\)",
    "(a+)?",
    "^Redmi Note \\d+( Pro)?$",
    "^(iPhone|iPad)\\d{1,2},\\d{1,2}$",
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "a?a?a?a?a?a?a?a?a?b",
  ])("accepts %s", (pattern) => {
    expect(regexSafetyProblem(pattern)).toBeNull();
  });

  it.each([
    ["(a+)+", "nested quantifiers"],
    ["(a*)*", "nested quantifiers"],
    ["(a|a)*", "nested quantifiers"],
    ["(a|ab)+$", "nested quantifiers"],
    ["^(\\w+\\s?)*$", "nested quantifiers"],
    ["((ab)*)+", "nested quantifiers"],
    ["(?:a+){2,}", "nested quantifiers"],
    ["(a+){10}", "nested quantifiers"],
    ["(?<x>a*)+", "nested quantifiers"],
    ["(a)\\1", "backreferences"],
    ["(?<x>a)\\k<x>", "backreferences"],
    ["(a?){12}", "nested quantifiers"],
    // Bounds of seven digits and more are quantifiers too (found by fuzzing: they once read as literals).
    ["^(a|a){1,9999999}$", "nested quantifiers"],
    ["(a+){99999}", "nested quantifiers"],
    ["(a+){1000000}", "repetition bounds"],
    ["(ab?){0,123456789012}", "nested quantifiers"],
    ["a{0,9999999}a{0,9999999}a{0,9999999}b", "backtrack too much"],
    // Found by review: out-of-order bounds the engine clamps once made the budget NaN (16 s per test()).
    ["(?:a{3000000000,2999999999})?.*a.*a.*a.*a.*a!", "repetition bounds"],
    ["a{5,2}", "repetition bounds"],
    ["a{100001}", "repetition bounds"],
    ["(?:.|\\n)*b", "nested quantifiers"],
    ["a*a*b", "backtrack too much"],
    [".*x.*y", "backtrack too much"],
    ["^(?=.*x).*y", "backtrack too much"],
    ["\\(a+\\)+", "backtrack too much"],
    ["a?a?a?a?a?a?a?a?a?a?b", "backtrack too much"],
    ["a{0,16}a{0,16}a{0,16}b", "backtrack too much"],
    ["(?:a|aa|aaa|aaaa)(?:a|aa|aaa|aaaa)(?:a|aa|aaa|aaaa)(?:a|aa|aaa|aaaa)(?:a|aa|aaa|aaaa)b", "backtrack too much"],
    ["x".repeat(257), "longer than 256"],
    ["", "empty"],
  ])("rejects %s", (pattern, fragment) => {
    expect(regexSafetyProblem(pattern)).toContain(fragment);
  });

  it("rejects syntax errors through compileRules", () => {
    for (const p of ["(", "[a-", "a{", "\\", "a**"]) {
      expect(compileRules([rule("model", "regex", [p])]).ok).toBe(false);
    }
  });

  it("evaluates the safe rewrite of (a+)+$ against its evil subject", () => {
    const result = compileRules([rule("model", "regex", ["^[a]+$"])]);
    if (!result.ok) throw new Error("should compile");
    const [compiled] = result.rules;
    if (compiled === undefined) throw new Error("one rule");
    const profile = { model: `${"a".repeat(127)}!`, custom: {} } as unknown as DeviceProfile;
    expect(matchRule(compiled, profile).reason).toBe("NOT_MATCHED");
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
