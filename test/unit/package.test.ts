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
    ["❤\ufe0f.png"], // a variation selector is a nonspacing mark (Mn), not a format character
    ["index.js.map"],
    [".hidden/a.js"],
    ["a. b/c .js"],
    ["İ.js"], // U+0130, NFKC-stable
    ["i\u0307.js"], // i and a combining dot above: no precomposed form, so NFKC-stable
  ])("accepts %j", (name) => {
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

  // Characters that show as nothing, or reorder what is shown (a right-to-left override makes
  // `evil\u202egnp.js` look like `eviljs.png`), and characters with no agreed meaning.
  it.each([
    ["U+202E right-to-left override", "evil\u202egnp.js", "invisible formatting character in path"],
    ["U+2066 left-to-right isolate", "a\u2066.js", "invisible formatting character in path"],
    ["U+200B zero width space", "index\u200b.js", "invisible formatting character in path"],
    ["U+200C zero width non-joiner", "a\u200cb.js", "invisible formatting character in path"],
    ["U+200D zero width joiner", "👨\u200d👩.png", "invisible formatting character in path"],
    ["U+FEFF byte order mark", "\ufeffindex.js", "invisible formatting character in path"],
    ["U+00AD soft hyphen", "in\u00addex.js", "invisible formatting character in path"],
    ["U+E0041 tag latin capital letter A", "index\u{e0041}.js", "invisible formatting character in path"],
    ["U+E0001 language tag", "a/\u{e0001}b.js", "invisible formatting character in path"],
    ["U+2028 line separator", "a\u2028b.js", "line or paragraph separator in path"],
    ["U+2029 paragraph separator", "a/b\u2029.js", "line or paragraph separator in path"],
    ["U+E000 private use", "a\ue000.js", "private-use character in path"],
    ["U+F8FF private use", "\uf8ff.png", "private-use character in path"],
    ["U+F0000 private use (plane 15)", "a\u{f0000}.js", "private-use character in path"],
    ["U+10FFFD private use (plane 16)", "a\u{10fffd}.js", "private-use character in path"],
    ["U+FFFF noncharacter", "a\uffff.js", "unassigned character or noncharacter in path"],
    ["U+FDD0 noncharacter", "a\ufdd0.js", "unassigned character or noncharacter in path"],
    ["U+1FFFE noncharacter", "a\u{1fffe}.js", "unassigned character or noncharacter in path"],
    ["U+10FFFF noncharacter", "a\u{10ffff}.js", "unassigned character or noncharacter in path"],
  ])("refuses a name with %s", (_what, name, reason) => {
    expect(unsafePathReason(name, 512)).toBe(reason);
  });

  // Windows drops trailing spaces and dots from each segment: `index.js ` and `index.js.` are
  // written as `index.js`.
  it.each([
    ["index.js "],
    ["index.js."],
    ["index.js. ."],
    ["pages /a.js"],
    ["pages./a.js"],
    ["dir./"],
    ["dir /"],
    ["..."],
    ["a/ "],
  ])("refuses %j (a segment ending in a space or a dot)", (name) => {
    expect(unsafePathReason(name, 512)).toBe("path segment ending in a space or a dot");
  });
});

describe("entry paths side by side", () => {
  it.each([
    [["index.js", "app.json", "pages/", "pages/a.js", "pages/b/"]],
    [["a.js", "a.jsx", "a/b.js"]],
    [["Pages/a.js", "pages/b.js"]], // one directory on a case-insensitive file system: no file lost
    [["dir/", "DIR/"]],
    // Unicode's default case folding keeps dotted İ apart from i and I (only Turkic folding, which
    // no common file system uses, joins them), and NTFS uppercases i to I and leaves İ alone.
    [["İ.js", "i.js", "ı/"]],
    [["İ.js", "I.js"]],
  ])("accepts %j", (names) => {
    expect(pathConflictReason(names)).toBeNull();
  });

  it.each([
    [["index.js", "index.js"], "duplicate path"],
    [["dir/", "dir/"], "duplicate path"],
    [["index.js", "INDEX.JS"], "paths that differ only in case"],
    [["pages/A.js", "PAGES/a.js"], "paths that differ only in case"],
    [["straße.js", "STRASSE.js"], "paths that differ only in case"],
    [["ß.js", "ẞ.js"], "paths that differ only in case"], // U+00DF and its capital U+1E9E
    [["ẞ.js", "ß.js"], "paths that differ only in case"],
    [["ß.js", "ss.js"], "paths that differ only in case"],
    [["ẞ.js", "ss.js"], "paths that differ only in case"],
    [["ß.js", "SS.js"], "paths that differ only in case"],
    [["ẞ.js", "SS.js"], "paths that differ only in case"],
    [["ss.js", "Ss.js"], "paths that differ only in case"],
    [["dir/ẞ/a.js", "DIR/ss"], "a path that is both a file and a directory"],
    // Greek sigma: final ς, medial σ and capital Σ are one letter.
    [["ος.js", "οσ.js"], "paths that differ only in case"],
    [["ΟΣ.js", "ος.js"], "paths that differ only in case"],
    [["ς.js", "σ.js"], "paths that differ only in case"],
    [["ς/a.js", "Σ"], "a path that is both a file and a directory"],
    // Dotless ı uppercases to I (NTFS's case table maps it so): it collides with i and I.
    [["ı.js", "i.js"], "paths that differ only in case"],
    [["ı.js", "I.js"], "paths that differ only in case"],
    // Dotted İ case-folds to i followed by a combining dot above (U+0307).
    [["İ.js", "i\u0307.js"], "paths that differ only in case"],
    [["I\u0307.js", "i\u0307.js"], "paths that differ only in case"],
    [["a.js", "a.js/b.js"], "a path that is both a file and a directory"],
    [["a/b.js", "A"], "a path that is both a file and a directory"],
    [["lib", "lib/"], "a path that is both a file and a directory"],
  ])("refuses %j", (names, reason) => {
    expect(pathConflictReason(names)).toBe(reason);
  });
});

describe("deep paths", () => {
  // The most entries a package may hold, each as deep as 512 characters allow (251 segments). The
  // conflict check once sliced and hashed every directory prefix of every name (quadratic: seconds
  // of CPU for these); it must now do work linear in the names' total length.
  const deep = (i: number, last = "x.js") => `${i.toString(36)}/${"a/".repeat(249)}${last}`;
  const distinct = Array.from({ length: 10_000 }, (_, i) => deep(i));
  const shared = Array.from({ length: 10_000 }, (_, i) => `${"a/".repeat(249)}${i.toString(36)}/x.js`);

  it("10,000 names of 251 segments each are safe and side by side", () => {
    expect(distinct.at(-1)?.split("/")).toHaveLength(251);
    expect(distinct.filter((name) => unsafePathReason(name, 512) !== null)).toEqual([]);
    expect(pathConflictReason(distinct)).toBeNull();
    expect(pathConflictReason(shared)).toBeNull();
    expect(pathConflictReason(distinct.map((name) => name.toUpperCase()))).toBeNull();
  });

  it.each([
    ["a deep path again", (names: string[]) => [...names, names[1234] as string], "duplicate path"],
    [
      "a deep path in other case",
      (names: string[]) => [...names, deep(9_999, "X.JS")],
      "paths that differ only in case",
    ],
    [
      "a file under a deep file",
      (names: string[]) => [...names, `${deep(0)}/y.js`],
      "a path that is both a file and a directory",
    ],
    [
      "a file that is a deep directory",
      (names: string[]) => [...names, deep(5_000).slice(0, -5)],
      "a path that is both a file and a directory",
    ],
    [
      "the same file first",
      (names: string[]) => [deep(5_000).slice(0, -5), ...names],
      "a path that is both a file and a directory",
    ],
  ])("after 10,000 deep names, %s is refused", (_what, add, reason) => {
    expect(pathConflictReason(add(distinct))).toBe(reason);
  });
});
