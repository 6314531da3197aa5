import { describe, expect, it } from "vitest";
import { buildShards, parseEntries, shardCountFor, shardOf } from "../../src/domain/allowlist-shards";
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
    expect(ok).toEqual({ ok: true, entries: { exact: ["a", "b"], regex: ["^x-[0-9]{1,3}$"] } });
    const bad = parseEntries(`fine\n${"y".repeat(300)}\nre:(a+)+`);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors.map((e) => e.pointer)).toEqual(["/lines/2", "/lines/3"]);
      expect(JSON.stringify(bad.errors)).not.toContain("yyy");
    }
  });

  it("takes a lone CR as a line end and keeps a repeated regex entry once (found by fuzzing)", () => {
    expect(parseEntries("a\rb\r\nc\r\rre:^x$\rre:^x$\r")).toEqual({
      ok: true,
      entries: { exact: ["a", "b", "c"], regex: ["^x$"] },
    });
    // Lines are still counted as the client wrote them.
    const bad = parseEntries(`a\r\r${"y".repeat(300)}`);
    expect(!bad.ok && bad.errors[0]?.pointer).toBe("/lines/3");
  });
});
