import { describe, expect, it } from "vitest";
import { buildShards, parseEntries, shardCountFor, shardOf } from "../../src/domain/allowlist-shards";
import { MAX_FIELD_ERRORS } from "../../src/domain/errors";
import { listRegexCost, MAX_LIST_REGEX_COST } from "../../src/domain/targeting/allowlist";
import { sortedShard } from "../../src/edge/list-content";

describe("allowlist shards", () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `id-${(i * 7919) % 100_003}-${i % 7 === 0 ? "ü" : "x"}`);
  const count = shardCountFor(ids.length);
  const shards = buildShards(ids, count).map(sortedShard);

  it("finds every member in its shard by binary search, and nothing else", () => {
    expect(count).toBe(8);
    for (const id of ids) expect(shards[shardOf(id, count)]?.has(id)).toBe(true);
    for (const outsider of ["", "id-", "id-0", "zzz", "id-1-y", "\u0000"]) {
      expect(shards[shardOf(outsider, count)]?.has(outsider)).toBe(false);
    }
  });

  it("handles empty and one-entry shards", () => {
    expect(sortedShard("").has("a")).toBe(false);
    expect(sortedShard("a").has("a")).toBe(true);
    expect(sortedShard("a\nc").has("b")).toBe(false);
  });

  it("parses uploads: trims, de-duplicates, separates regex entries, and reports lines without echoing", () => {
    const ok = parseEntries(" a \r\nb\n\na\nre:^x-[0-9]{1,3}$\n");
    expect(ok).toMatchObject({ ok: true, entries: { exact: ["a", "b"], regex: ["^x-[0-9]{1,3}$"] } });
    const bad = parseEntries(`fine\n${"y".repeat(300)}\nre:(?=a+)`);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors.map((e) => e.pointer)).toEqual(["/lines/2", "/lines/3"]);
      expect(JSON.stringify(bad.errors)).not.toContain("yyy");
    }
  });

  it("takes a lone CR as a line end and keeps a repeated regex entry once (found by fuzzing)", () => {
    expect(parseEntries("a\rb\r\nc\r\rre:^x$\rre:^x$\r")).toEqual({
      ok: true,
      entries: { exact: ["a", "b", "c"], regex: ["^x$"], regexCost: 5 },
    });
    // Lines are still counted as the client wrote them.
    const bad = parseEntries(`a\r\r${"y".repeat(300)}`);
    expect(!bad.ok && bad.errors[0]?.pointer).toBe("/lines/3");
  });

  it("refuses control and bidirectional formatting characters in any entry, with the line's pointer", () => {
    const upload = [
      "ok",
      "nul\u0000x",
      "bel\u0007",
      "in\ttab",
      "re:^a\u202e",
      "\u2066iso",
      "del\u007f",
      "c1\u0085",
      "re:^fine$",
      "zero\u200bwidth",
      "line\u2028separator",
      "private\ue000use",
      "non\uffffcharacter",
      "tag\u{e0041}",
    ];
    const result = parseEntries(upload.join("\n"));
    expect(result.ok ? [] : result.errors.map((e) => e.pointer)).toEqual([
      "/lines/2",
      "/lines/3",
      "/lines/4",
      "/lines/5",
      "/lines/6",
      "/lines/7",
      "/lines/8",
      "/lines/10",
      "/lines/11",
      "/lines/12",
      "/lines/13",
      "/lines/14",
    ]);
    expect(result.ok ? "" : result.errors[0]?.message).toBe(
      "entries must not contain control characters (tab included), invisible or bidirectional formatting characters, line or paragraph separators, private-use or unassigned characters",
    );
    // A tab around an entry is trimmed like any blank.
    expect(parseEntries("\tok\t")).toMatchObject({ ok: true, entries: { exact: ["ok"] } });
  });

  it(`stops at ${MAX_FIELD_ERRORS} errors`, () => {
    const result = parseEntries(Array.from({ length: 100 }, () => "re:(").join("\n"));
    expect(result.ok ? 0 : result.errors.length).toBe(20);
  });

  it("refuses RE2-incompatible patterns and a list over its regex budget at the line that crosses it", () => {
    const bad = parseEntries("re:(?<=a)b\nre:(a)\\1");
    expect(bad.ok ? [] : bad.errors.map((e) => e.pointer)).toEqual(["/lines/1", "/lines/2"]);
    expect(bad.ok ? "" : bad.errors[0]?.message).toContain("not valid RE2 syntax");
    // `^a{n}` costs n + 3: entries of 100 units each, one past the list's budget.
    const n = MAX_LIST_REGEX_COST / 100;
    const lines = Array.from({ length: n + 1 }, (_, i) => `re:^${i % 10}a{${96 - Math.floor(i / 10)}}`);
    const costs = lines.map((l) => listRegexCost([l.slice(3)]));
    let total = 0;
    let crossing = -1;
    costs.forEach((c, i) => {
      total += c;
      if (crossing < 0 && total > MAX_LIST_REGEX_COST) crossing = i;
    });
    const over = parseEntries(lines.join("\n"));
    expect(over.ok ? [] : over.errors.map((e) => e.pointer)).toEqual([`/lines/${crossing + 1}`]);
    const fits = parseEntries(lines.slice(0, crossing).join("\n"));
    expect(fits.ok && fits.entries.regexCost).toBe(costs.slice(0, crossing).reduce((a, b) => a + b, 0));
  });
});
