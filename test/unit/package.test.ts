import { describe, expect, it } from "vitest";
import { unsafePathReason } from "../../src/domain/package";

describe("zip entry paths", () => {
  it.each([["index.js"], ["pages/home/index.js"], ["assets/"], ["a..b/c.js"], ["中文/文件.js"]])(
    "accepts %s",
    (name) => {
      expect(unsafePathReason(name, 512)).toBeNull();
    },
  );

  it.each([
    ["", "empty path"],
    ["../evil.js", "relative path segment"],
    ["a/../../evil.js", "relative path segment"],
    ["./index.js", "relative path segment"],
    ["/etc/passwd", "absolute path"],
    ["C:/windows/x", "drive letter in path"],
    ["a\\..\\b", "backslash in path"],
    ["a//b", "empty path segment"],
    ["a\u0000b", "control character in path"],
    ["x".repeat(513), "path too long"],
  ])("refuses %j", (name, reason) => {
    expect(unsafePathReason(name, 512)).toBe(reason);
  });
});
