// An append is validated as the merged list, stored lines first: a stored line that the current rules
// refuse (saved under older rules) is named as such, so the caller knows to replace the list.
import { describe, expect, it } from "vitest";
import { parseEntries } from "../../src/domain/allowlist-shards";
import { markStoredLines } from "../../src/usecases/manage-allowlists";

describe("appending to a list that holds entries the current rules refuse", () => {
  it("names stored lines as stored, and leaves errors in the appended lines as they are", () => {
    const stored = "user-1\nuser\u200b2\nre:^(?=x)";
    const appended = "user-3\nbad\u0007";
    const parsed = parseEntries(`${stored}\n${appended}`);
    if (parsed.ok) throw new Error("the merged list should be refused");
    const errors = markStoredLines(parsed.errors, stored.split("\n").length);
    expect(errors.map((e) => e.pointer)).toEqual(["/lines/2", "/lines/3", "/lines/5"]);
    expect(errors[0]?.message).toMatch(/a line already stored in the list, saved under older rules/);
    expect(errors[1]?.message).toMatch(/a line already stored in the list/);
    expect(errors[2]?.message).not.toMatch(/already stored/);
  });

  it("changes nothing for a replace (no stored lines)", () => {
    const parsed = parseEntries("a\u200bb");
    if (parsed.ok) throw new Error("should be refused");
    expect(markStoredLines(parsed.errors, 0)).toEqual(parsed.errors);
  });
});
