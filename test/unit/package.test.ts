import { describe, expect, it } from "vitest";
import { pathConflictReason, unsafePathReason } from "../../src/domain/package";

describe("zip entry paths", () => {
  it.each([
    ["index.js"],
    ["pages/home/index.js"],
    ["assets/"],
    ["a..b/c.js"],
    ["中文/文件.js"],
    ["ü.js"], // precomposed (NFC) is NFKC-stable
    ["emoji-😀.png"],
  ])("accepts %s", (name) => {
    expect(unsafePathReason(name, 512)).toBeNull();
  });

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
    ["a\u001fb", "control character in path"],
    ["a\u007fb", "control character in path"],
    ["a\u0080b", "control character in path"],
    ["a\u009fb", "control character in path"],
    ["a\ud800b", "malformed Unicode in path"],
    ["．．/evil.js", "path changes under Unicode NFKC normalisation"],
    ["．．／evil.js", "path changes under Unicode NFKC normalisation"],
    ["a＼..＼b", "path changes under Unicode NFKC normalisation"],
    ["ﬁle.js", "path changes under Unicode NFKC normalisation"],
    ["u\u0308.js", "path changes under Unicode NFKC normalisation"],
    ["x".repeat(513), "path too long"],
  ])("refuses %j", (name, reason) => {
    expect(unsafePathReason(name, 512)).toBe(reason);
  });
});

describe("entry paths side by side", () => {
  it.each([
    [["index.js", "app.json", "pages/", "pages/a.js", "pages/b/"]],
    [["a.js", "a.jsx", "a/b.js"]],
    [["Pages/a.js", "pages/b.js"]], // one directory on a case-insensitive file system: no file lost
    [["dir/", "DIR/"]],
  ])("accepts %j", (names) => {
    expect(pathConflictReason(names)).toBeNull();
  });

  it.each([
    [["index.js", "index.js"], "duplicate path"],
    [["dir/", "dir/"], "duplicate path"],
    [["index.js", "INDEX.JS"], "paths that differ only in case"],
    [["pages/A.js", "PAGES/a.js"], "paths that differ only in case"],
    [["straße.js", "STRASSE.js"], "paths that differ only in case"],
    [["a.js", "a.js/b.js"], "a path that is both a file and a directory"],
    [["a/b.js", "A"], "a path that is both a file and a directory"],
    [["lib", "lib/"], "a path that is both a file and a directory"],
  ])("refuses %j", (names, reason) => {
    expect(pathConflictReason(names)).toBe(reason);
  });
});
