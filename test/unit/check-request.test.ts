import { describe, expect, it } from "vitest";
import { AppError } from "../../src/domain/errors";
import { acceptValid, CHECK_LIMITS, CheckRequest, parseCheckRequest } from "../../src/http/client/check-request";

// The fast acceptor of check bodies must agree with the schema: same output when it accepts, and
// (for bodies without `\u` escapes or `__proto__` keys, which it leaves to the schema by design)
// acceptance exactly when the schema accepts. Checked over edge values of every field and over
// random combinations of them.

const SHA = "ab".repeat(32);
const base = () => ({
  appId: "demo",
  env: "prod",
  deviceId: "dev-1",
  userId: "u-1",
  appVersion: "9.1",
  platform: "ios",
  osVersion: "18.1",
  brand: "Apple",
  model: "iPhone15,2",
  network: "wifi",
  language: "zh-CN",
  attributes: { tier: "gold" },
  nonce: "n-1",
  miniPrograms: [{ id: "mp-1", version: "1.0.0", sha256: SHA, failed: ["1.1.0"] }],
});

const strings = (max: number) => [
  "",
  "a",
  "x".repeat(max),
  "x".repeat(max + 1),
  "é",
  "😀",
  "\uD800",
  "a\uDC00b",
  "\u0001",
];
const junk = [undefined, null, 0, 1.5, true, [], {}, ["a"]];
/** The top-level string fields, with the length limits the module declares. */
const STRING_FIELDS = [
  "appId",
  "env",
  "deviceId",
  "userId",
  "appVersion",
  "platform",
  "osVersion",
  "brand",
  "model",
  "network",
  "language",
  "nonce",
] as const;
const LIMITS: Record<string, number> = Object.fromEntries(STRING_FIELDS.map((f) => [f, CHECK_LIMITS[f]]));
const manyKeys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));

type Body = Record<string, unknown>;
/** The first mini program of the body, or a detached object when an earlier edit removed it. */
const mp = (b: Body): Body => {
  const first = Array.isArray(b.miniPrograms) ? b.miniPrograms[0] : undefined;
  return typeof first === "object" && first !== null ? first : {};
};
const set = (field: string, v: unknown) => (b: Body) => {
  b[field] = v;
};
const setMp = (field: string, v: unknown) => (b: Body) => {
  mp(b)[field] = v;
};
const drop = (field: string) => (b: Body) => {
  delete b[field];
};
const dropMp = (field: string) => (b: Body) => {
  delete mp(b)[field];
};

/** Edge values per path, as functions of a body they mutate. */
const edits: ((b: Body) => void)[] = [];
for (const [field, max] of Object.entries(LIMITS)) {
  for (const v of [...strings(max), ...junk]) edits.push(set(field, v));
  edits.push(drop(field));
}
for (const v of [
  ...junk,
  manyKeys(50),
  manyKeys(51),
  { "": "v" },
  { ["k".repeat(65)]: "v" },
  { k: "v".repeat(257) },
  { k: 1 },
  { "\uD800": "v" },
  { k: "\uD800" },
]) {
  edits.push(set("attributes", v));
}
edits.push(set("extra", 1));
for (const v of [...junk, [], Array.from({ length: 200 }, (_, i) => ({ id: `m${i}` }))]) {
  edits.push(set("miniPrograms", v));
}
edits.push(
  set(
    "miniPrograms",
    Array.from({ length: 201 }, (_, i) => ({ id: `m${i}` })),
  ),
);
for (const v of [...strings(128), ...junk]) edits.push(setMp("id", v));
for (const v of [...strings(64), ...junk]) edits.push(setMp("version", v));
for (const v of [SHA.toUpperCase(), SHA.slice(1), `${SHA}0`, "", ...junk]) edits.push(setMp("sha256", v));
for (const v of [...junk, ["x".repeat(65)], [""], Array(50).fill("1.0.0"), Array(51).fill("1.0.0"), [1]]) {
  edits.push(setMp("failed", v));
}
for (const k of ["version", "sha256", "failed", "id"]) edits.push(dropMp(k));
edits.push(setMp("extra", 1));

function agree(text: string) {
  const value = JSON.parse(text);
  const schema = CheckRequest.safeParse(value);
  if (schema.success) {
    expect(parseCheckRequest(text)).toEqual(schema.data);
  } else {
    let error: unknown;
    try {
      parseCheckRequest(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("VALIDATION_FAILED");
  }
  if (text.includes("\\u")) return schema.success;
  const fast = acceptValid(value);
  if (!text.includes("__proto__")) expect(fast !== null).toBe(schema.success);
  if (fast !== null) expect(fast).toEqual(schema.data);
  return schema.success;
}

describe("check request validation", () => {
  it("the fast acceptor and the schema agree on every single-field edge value", () => {
    let accepted = 0;
    for (const edit of edits) {
      const body = base();
      edit(body);
      if (agree(JSON.stringify(body))) accepted++;
    }
    expect(edits.length).toBeGreaterThan(300);
    expect(accepted).toBeGreaterThan(100); // both outcomes are exercised
    expect(accepted).toBeLessThan(edits.length - 100);
  });

  it("they agree on random combinations of edits", () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      const body = base();
      const count = 1 + rnd(3);
      for (let j = 0; j < count; j++) edits[rnd(edits.length)]?.(body);
      agree(JSON.stringify(body));
    }
  });

  it("fills defaults like the schema and accepts the minimal body", () => {
    const text = JSON.stringify({ appId: "a", env: "e", deviceId: "d", miniPrograms: [{ id: "m" }] });
    expect(acceptValid(JSON.parse(text))).toEqual({
      appId: "a",
      env: "e",
      deviceId: "d",
      userId: null,
      appVersion: null,
      platform: null,
      osVersion: null,
      brand: null,
      model: null,
      network: null,
      language: null,
      attributes: {},
      nonce: null,
      patchFormats: [],
      miniPrograms: [{ id: "m", version: null, sha256: null, failed: [], previewToken: null, sequence: null }],
    });
    agree(text);
    agree(
      JSON.stringify({ appId: "a", env: "e", deviceId: "d", patchFormats: ["bsdiff"], miniPrograms: [{ id: "m" }] }),
    );
    for (const sequence of [0, 7, null, Number.MAX_SAFE_INTEGER]) {
      const ok = JSON.stringify({ appId: "a", env: "e", deviceId: "d", miniPrograms: [{ id: "m", sequence }] });
      expect(acceptValid(JSON.parse(ok))?.miniPrograms[0]?.sequence).toBe(sequence);
      agree(ok);
    }
    for (const sequence of [-1, 1.5, "3", 2 ** 53]) {
      const bad = JSON.stringify({ appId: "a", env: "e", deviceId: "d", miniPrograms: [{ id: "m", sequence }] });
      expect(acceptValid(JSON.parse(bad))).toBeNull();
      agree(bad);
    }
    for (const patchFormats of [["x".repeat(33)], [""], Array(9).fill("f"), "bsdiff", [1]]) {
      const bad = JSON.stringify({ appId: "a", env: "e", deviceId: "d", patchFormats, miniPrograms: [{ id: "m" }] });
      expect(acceptValid(JSON.parse(bad))).toBeNull();
      agree(bad);
    }
  });

  it("leaves non-objects to the schema", () => {
    for (const text of ["null", "[]", '"text"', "1"]) {
      expect(acceptValid(JSON.parse(text))).toBeNull();
      agree(text);
    }
  });

  it("refuses __proto__ keys with their pointer (the schema would drop them without a word)", () => {
    for (const [text, pointer] of [
      [
        '{"appId":"a","env":"e","deviceId":"d","miniPrograms":[{"id":"m"}],"attributes":{"__proto__":"x"}}',
        "/attributes/__proto__",
      ],
      ['{"appId":"a","env":"e","deviceId":"d","miniPrograms":[{"id":"m"}],"__proto__":{}}', "/__proto__"],
    ]) {
      expect(acceptValid(JSON.parse(text as string))).toBeNull();
      expect(() => parseCheckRequest(text as string)).toThrow(
        expect.objectContaining({ code: "VALIDATION_FAILED", errors: [expect.objectContaining({ pointer })] }),
      );
    }
  });

  it("reports at most 20 field errors (found by review: 60,000 bad attributes made a 5 MB answer)", () => {
    const attributes = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`a${i}`, i]));
    const text = JSON.stringify({ appId: "a", env: "e", deviceId: "d", miniPrograms: [{ id: "m" }], attributes });
    expect(() => parseCheckRequest(text)).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED", errors: expect.any(Array) }),
    );
    try {
      parseCheckRequest(text);
    } catch (error) {
      expect((error as { errors: unknown[] }).errors.length).toBe(20);
    }
  });

  it("reports malformed JSON as MALFORMED_JSON", () => {
    expect(() => parseCheckRequest("{")).toThrow(expect.objectContaining({ code: "MALFORMED_JSON" }));
  });
});
