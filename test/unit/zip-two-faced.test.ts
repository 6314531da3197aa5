// Archives with two faces: the central directory (what the reader and the manifest see) lists one
// set of files while an extractor that walks local headers in order (Java's ZipInputStream, common
// on Android) unpacks another. Found by an attacker: a central directory listing only `index.js`
// over an archive that also held a local entry `evil.js` was accepted with the manifest
// `[index.js]`. Each attack is shown to fool the sequential view where that is the point, and must
// be refused as INVALID_PACKAGE with a detail that echoes nothing from the archive.
import { strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { read, refusal } from "../support/read-package";
import { buildZip, type RawEntry, zipCrc32, zipWithHiddenEntry } from "../support/zip";
import { readSequentially } from "../support/zip-sequential";

const js = (text: string) => strToU8(text.repeat(20));
const index: RawEntry = { name: "index.js", data: js("console.log('index');") };
const app: RawEntry = { name: "app.json", data: js('{"pages":[]}') };
const evil: RawEntry = { name: "evil.js", data: js("steal();"), hidden: true };
const names = (zip: Uint8Array) => readSequentially(zip).entries.map((e) => e.name);

async function refused(zip: Uint8Array, detail: string | RegExp) {
  const error = await refusal(zip);
  expect(error.code).toBe("INVALID_PACKAGE");
  if (typeof detail === "string") expect(error.message).toContain(detail);
  else expect(error.message).toMatch(detail);
}

/** An end-of-central-directory record for an archive of `count` entries (nothing more is needed to fool a reader). */
function endRecord(count: number, size: number, offset: number, commentLength = 0) {
  const out = new Uint8Array(22);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, count, true);
  view.setUint16(10, count, true);
  view.setUint32(12, size, true);
  view.setUint32(16, offset, true);
  view.setUint16(20, commentLength, true);
  return out;
}

describe("the control: the same archives without the attack are accepted", () => {
  it("index.js and app.json, stored, deflated and with descriptors", async () => {
    for (const variant of [{}, { method: 0 }, { descriptor: true }, { descriptor: "unsigned" as const }]) {
      const zip = buildZip([
        { ...index, ...variant },
        { ...app, ...variant },
      ]);
      expect((await read(zip)).map((f) => f.path)).toEqual(["app.json", "index.js"]);
    }
  });

  it("a zip stored inside the package: record signatures inside entry data are only data", async () => {
    const inner = buildZip([index]);
    const zip = buildZip([
      { name: "assets/inner.zip", data: inner, method: 0 },
      { name: "assets/inner-deflated.zip", data: inner },
      app,
    ]);
    expect((await read(zip)).map((f) => f.path)).toEqual(["app.json", "assets/inner-deflated.zip", "assets/inner.zip"]);
  });
});

describe("local entries the central directory does not list are refused", () => {
  it.each([
    ["before every entry", [evil, index, app]],
    ["between entries", [index, evil, app]],
    ["after every entry", [index, app, evil]],
    ["deflated with a descriptor, after every entry", [index, app, { ...evil, descriptor: true }]],
  ] as const)("a hidden local entry %s", async (_where, items) => {
    const zip = buildZip([...items]);
    expect(names(zip)).toContain("evil.js"); // the attack works on a sequential extractor
    await refused(zip, /bytes (before or between its entries|between its last entry and the central directory)/);
  });

  it("the attack as reported (also used by the integration test)", async () => {
    const zip = zipWithHiddenEntry();
    expect(names(zip)).toEqual(["evil.js", "index.js"]);
    await refused(zip, "no entry accounts for");
  });

  it("gap bytes between entries, and before the first one", async () => {
    await refused(buildZip([index, { junk: new Uint8Array(7) }, app]), "no entry accounts for");
    await refused(buildZip([{ junk: strToU8("MZ") }, index, app]), "no entry accounts for");
  });

  it("bytes between the last entry and the central directory", async () => {
    await refused(buildZip([index, app, { junk: new Uint8Array(1) }]), "between its last entry");
  });

  it("a hidden entry inside another's data, after its deflate stream ends (counted in its compressed size)", async () => {
    // A sequential extractor inflates to the end of the stream, then reads the next header there.
    const hidden = buildZip([evil]);
    const central = new DataView(hidden.buffer).getUint32(hidden.length - 6, true);
    const zip = buildZip([{ ...index, padData: hidden.subarray(0, central) }, app]);
    await refused(zip, "deflate stream ends before its compressed size");
  });

  it("two central records pointing at one local entry", async () => {
    const zip = buildZip([index, app]);
    const eocd = zip.length - 22;
    const view = new DataView(zip.buffer);
    const centralStart = view.getUint32(eocd + 16, true);
    view.setUint32(centralStart + (46 + 8) + 42, 0, true); // app.json's record now points at index.js's header
    await refused(zip, /overlap|disagrees/);
  });
});

describe("bytes around the central directory and end record are refused", () => {
  it("trailing bytes after the end record", async () => {
    await refused(buildZip([index], { trailing: new Uint8Array(3) }), "bytes follow the end");
    await refused(buildZip([index], { trailing: strToU8("PK\u0003\u0004") }), "bytes follow the end");
  });

  it("bytes between the central directory and the end record", async () => {
    await refused(buildZip([index], { beforeEnd: new Uint8Array(4) }), "not immediately followed");
  });

  it("a central directory size that claims bytes no record accounts for", async () => {
    const zip = buildZip([index], { beforeEnd: new Uint8Array(4) });
    const view = new DataView(zip.buffer);
    view.setUint32(zip.length - 22 + 12, view.getUint32(zip.length - 22 + 12, true) + 4, true);
    await refused(zip, "no entry accounts for");
  });

  it("any archive comment", async () => {
    await refused(buildZip([index, app], { comment: strToU8("built by hand") }), "comment");
  });

  it("a fake end record in the comment, pointing at a central directory that lists evil.js", async () => {
    // Readers that take the last end record find the fake one; readers that check the comment
    // length take the real one. Here the real one lists index.js and the fake one evil.js.
    const base = buildZip([{ ...evil, hidden: false }, index]);
    const view = new DataView(base.buffer);
    const eocd = base.length - 22;
    const centralStart = view.getUint32(eocd + 16, true);
    const evilRecordLength = 46 + 7;
    const fake = endRecord(1, evilRecordLength, centralStart);
    const real = endRecord(1, view.getUint32(eocd + 12, true) - evilRecordLength, centralStart + evilRecordLength, 22);
    const zip = new Uint8Array(eocd + 44);
    zip.set(base.subarray(0, eocd));
    zip.set(real, eocd);
    zip.set(fake, eocd + 22);
    await refused(zip, "more than one end record (one in the comment of another)");
    // And the same fake record as the comment of an otherwise valid archive.
    await refused(buildZip([index], { comment: fake }), /comment/);
  });

  it("two end records, one after the other", async () => {
    const base = buildZip([index]);
    const zip = new Uint8Array(base.length + 22);
    zip.set(base);
    zip.set(base.subarray(base.length - 22), base.length);
    await refused(zip, /more than one end record|not immediately followed/);
  });

  it("an end record hidden in an entry comment of the central directory", async () => {
    const base = buildZip([index]);
    const zip = buildZip([{ ...index, central: { comment: base.subarray(base.length - 22) } }]);
    await refused(zip, "more than one end record");
  });

  it("zip64 records and fields (not accepted: packages are far below its limits)", async () => {
    const zip64Extra = new Uint8Array(4 + 8);
    new DataView(zip64Extra.buffer).setUint16(0, 0x0001, true);
    new DataView(zip64Extra.buffer).setUint16(2, 8, true);
    await refused(buildZip([{ ...index, central: { extra: zip64Extra } }]), "zip64");
    await refused(buildZip([{ ...index, local: { extra: zip64Extra } }]), "zip64");
    await refused(buildZip([{ ...index, central: { size: 0xffffffff } }]), "zip64");
    const locator = new Uint8Array(20);
    new DataView(locator.buffer).setUint32(0, 0x07064b50, true);
    await refused(buildZip([index], { beforeEnd: locator }), "zip64");
  });

  it("an archive spanning several disks", async () => {
    const zip = buildZip([index]);
    new DataView(zip.buffer).setUint16(zip.length - 22 + 4, 1, true);
    await refused(zip, "several disks");
  });
});

describe("names and flags an extractor could read otherwise are refused", () => {
  it("a name that is not valid UTF-8", async () => {
    const name = Uint8Array.from([0x65, 0x76, 0xff, 0x2e, 0x6a, 0x73]);
    await refused(buildZip([index, { name, data: js("x") }]), "not valid UTF-8");
    // An overlong encoding of "/" (0xc0 0xaf), which lenient decoders turn into a separator.
    const overlong = Uint8Array.from([0x61, 0xc0, 0xaf, 0x62]);
    await refused(buildZip([index, { name: overlong, data: js("x") }]), "not valid UTF-8");
  });

  it("names without the UTF-8 flag are UTF-8 too; one that collides when read as code page 437 is refused", async () => {
    // Info-ZIP's zip writes UTF-8 names without the flag: accepted, read as UTF-8 (as Java and Go do).
    const unflagged = buildZip([index, { name: "中文/é.js", data: js("x"), noUtf8Flag: true }]);
    expect((await read(unflagged)).map((f) => f.path)).toEqual(["index.js", "中文/é.js"]);
    // "é" is C3 A9 in UTF-8, which code page 437 reads as "├⌐": a flagged entry of that name would
    // be overwritten by (or overwrite) the unflagged one on such an extractor.
    const colliding = buildZip([
      { name: "├⌐.js", data: js("shown") },
      { name: "é.js", data: js("evil"), noUtf8Flag: true },
    ]);
    await refused(colliding, "code page 437");
  });

  it("a zip made by Info-ZIP's zip 3.0 (`zip -qrX`, UTF-8 names without the flag, directories)", async () => {
    const zip = new Uint8Array(Buffer.from(INFO_ZIP, "base64"));
    expect((await read(zip)).map((f) => f.path)).toEqual(["index.js", "pages/home.js", "中文/文件.js"]);
  });

  it.each([
    ["traditional encryption (bit 0)", 0x0001],
    ["strong encryption (bit 6)", 0x0040],
    ["masked headers (bit 13)", 0x2000],
  ])("the %s flag", async (_name, flag) => {
    await refused(buildZip([index, { ...app, flags: flag }]), "encrypted");
  });

  it("an unknown flag", async () => {
    await refused(buildZip([index, { ...app, flags: 0x0010 }]), "unsupported general-purpose flag");
  });

  it.each([
    ["C0", "a\u0001.js"],
    ["NUL", "index.js\u0000.png"],
    ["DEL", "a\u007f.js"],
    ["C1 (NEL)", "a\u0085.js"],
    ["C1 (CSI)", "a\u009b.js"],
  ])("a %s control character", async (_name, name) => {
    await refused(buildZip([index, { name, data: js("x") }]), "control character");
  });

  it.each([
    ["fullwidth dots and solidus", "．．／evil.js"],
    ["fullwidth dots", "．．/evil.js"],
    ["a ligature", "ﬁle.js"],
    ["fullwidth letters", "ｉｎｄｅｘ.js"],
    ["a decomposed accent (NFD)", "u\u0308.js"],
    ["a fullwidth reverse solidus", "a＼..＼evil.js"],
  ])("a name NFKC normalisation changes: %s", async (_name, name) => {
    await refused(buildZip([index, { name, data: js("x") }]), "NFKC");
  });

  it.each([
    ["a right-to-left override (U+202E)", "evil\u202egnp.js", "invisible formatting character in path"],
    ["a zero width space (U+200B)", "index\u200b.js", "invisible formatting character in path"],
    ["a zero width joiner (U+200D)", "a\u200db.js", "invisible formatting character in path"],
    ["a byte order mark (U+FEFF)", "\ufeffindex.js", "invisible formatting character in path"],
    ["a tag character (U+E0069)", "index\u{e0069}.js", "invisible formatting character in path"],
    ["a line separator (U+2028)", "a\u2028b.js", "line or paragraph separator in path"],
    ["a paragraph separator (U+2029)", "a\u2029b.js", "line or paragraph separator in path"],
    ["a private-use character (U+E000)", "a\ue000.js", "private-use character in path"],
    ["a noncharacter (U+FFFF)", "a\uffff.js", "unassigned character or noncharacter in path"],
    ["a trailing space", "index.js ", "path segment ending in a space or a dot"],
    ["a trailing dot", "index.js.", "path segment ending in a space or a dot"],
    ["a directory ending in a dot", "pages./index.js", "path segment ending in a space or a dot"],
  ])("a name with %s, named by its position", async (_what, name, reason) => {
    for (const noUtf8Flag of [false, true]) {
      const error = await refusal(buildZip([index, app, { name, data: js("x"), noUtf8Flag }]));
      expect(error.code).toBe("INVALID_PACKAGE");
      expect(error.message).toBe(`The package has an unsafe entry: entry 3: ${reason}.`);
    }
  });

  it("the rules already in place: ../, absolute paths, backslashes, duplicates", async () => {
    await refused(buildZip([index, { name: "../evil.js", data: js("x") }]), "relative path segment");
    await refused(buildZip([index, { name: "/etc/evil", data: js("x") }]), "absolute path");
    await refused(buildZip([index, { name: "a\\..\\evil.js", data: js("x") }]), "backslash");
    await refused(buildZip([index, { ...index, data: js("evil") }]), "duplicate path");
  });

  it("names that collide on a case-insensitive file system, or are both a file and a directory", async () => {
    await refused(buildZip([index, { name: "INDEX.js", data: js("evil") }]), "differ only in case");
    await refused(buildZip([index, { name: "index.js/x.js", data: js("evil") }]), "both a file and a directory");
    await refused(buildZip([index, { name: "Index.JS/", data: new Uint8Array(0) }]), "both a file and a directory");
  });

  it("a symbolic link, and a directory entry that carries data or lacks its slash", async () => {
    await refused(buildZip([index, { ...app, external: 0o120777 << 16 }]), "symbolic link");
    await refused(buildZip([index, { name: "dir/", data: js("hidden") }]), "directory entry carries data");
    await refused(buildZip([index, { ...app, external: 0x10 }]), "marked as a directory");
  });

  it("an Info-ZIP Unicode path field naming another path (extractors that honour it see that name)", async () => {
    const field = (name: string, headerName = name) => {
      const out = new Uint8Array(4 + 5 + strToU8(name).length);
      const view = new DataView(out.buffer);
      view.setUint16(0, 0x7075, true);
      view.setUint16(2, out.length - 4, true);
      out[4] = 1;
      view.setUint32(5, zipCrc32(strToU8(headerName)), true);
      out.set(strToU8(name), 9);
      return out;
    };
    const same = field("中文.js");
    const named = { name: "中文.js", data: js("x"), noUtf8Flag: true };
    expect(await read(buildZip([index, { ...named, central: { extra: same }, local: { extra: same } }]))).toHaveLength(
      2,
    );
    const other = field("evil.js", "中文.js");
    await refused(buildZip([index, { ...named, central: { extra: other } }]), "Unicode path field");
    await refused(buildZip([index, { ...named, local: { extra: other } }]), "Unicode path field");
  });

  it("a malformed extra field", async () => {
    await refused(buildZip([index, { ...app, local: { extra: Uint8Array.from([1, 2, 9, 0]) } }]), "malformed extra");
  });
});

describe("local headers and data descriptors that disagree with the central directory are refused", () => {
  const data = js("console.log('index');");
  const crc = zipCrc32(data);
  it.each([
    ["name", { local: { name: strToU8("evil.js") } }, "(name)"],
    ["name of the same length", { local: { name: strToU8("INDEX.js") } }, "(name)"],
    ["method", { method: 0, local: { method: 8 } }, "(compression method)"],
    ["flags", { local: { flags: 0x0002 } }, "(flags)"],
    ["CRC-32", { local: { crc: crc ^ 1 } }, "(CRC-32)"],
    ["compressed size", { local: { compressedSize: 5 } }, "(compressed size)"],
    ["size", { local: { size: data.length + 1 } }, "(size)"],
    ["CRC-32 beside a descriptor", { descriptor: true, local: { crc: crc ^ 1 } }, "(CRC-32)"],
    ["size beside a descriptor", { descriptor: true, local: { size: 7 } }, "(size)"],
    ["descriptor's CRC-32", { descriptor: true, descriptorFields: { crc: crc ^ 1 } }, "data descriptor disagrees"],
    ["descriptor's size", { descriptor: true, descriptorFields: { size: 1 } }, "data descriptor disagrees"],
    [
      "descriptor's compressed size",
      { descriptor: "unsigned", descriptorFields: { compressedSize: 1 } },
      "data descriptor disagrees",
    ],
    ["descriptor flag in the central record only", { central: { flags: 0x0008 } }, /flags|descriptor/],
  ] as const)("%s", async (_field, overrides, detail) => {
    await refused(buildZip([{ ...index, data, ...overrides } as RawEntry, app]), detail);
  });

  it("a deflated entry with no deflate stream at all", async () => {
    const empty = {
      name: "empty.js",
      data: new Uint8Array(0),
      method: 0,
      local: { method: 8 },
      central: { method: 8 },
    };
    await refused(buildZip([index, empty]), "incomplete");
  });

  it("an fflate archive whose first local name was changed (the earlier check, kept)", async () => {
    const zip = zipSync({ "a.js": strToU8("x"), "b.js": strToU8("y") });
    zip.set(strToU8("z"), 30);
    await refused(zip, "(name)");
  });
});

/** `zip -qrX` (Info-ZIP 3.0, Linux, UTF-8 locale) of index.js, pages/home.js and 中文/文件.js. */
const INFO_ZIP =
  "UEsDBAoAAAAAAAAAIVAAAAAAAAAAAAAAAAAHAAAA5Lit5paHL1BLAwQKAAAAAAAAACFQenpv7QMAAAADAAAAEAAAAOS4reaWhy/mlofku7YuanNoaQpQSwMECgAAAAAAAAAhUAfu/XEPAAAADwAAAAgAAABpbmRleC5qc2NvbnNvbGUubG9nKDEpClBLAwQKAAAAAAAAACFQAAAAAAAAAAAAAAAABgAAAHBhZ2VzL1BLAwQKAAAAAAAAACFQ0dcHKwkAAAAJAAAADQAAAHBhZ2VzL2hvbWUuanNQYWdlKHt9KQpQSwECHgMKAAAAAAAAACFQAAAAAAAAAAAAAAAABwAAAAAAAAAAABAA7UEAAAAA5Lit5paHL1BLAQIeAwoAAAAAAAAAIVB6em/tAwAAAAMAAAAQAAAAAAAAAAEAAACkgSUAAADkuK3mlocv5paH5Lu2LmpzUEsBAh4DCgAAAAAAAAAhUAfu/XEPAAAADwAAAAgAAAAAAAAAAQAAAKSBVgAAAGluZGV4LmpzUEsBAh4DCgAAAAAAAAAhUAAAAAAAAAAAAAAAAAYAAAAAAAAAAAAQAO1BiwAAAHBhZ2VzL1BLAQIeAwoAAAAAAAAAIVDR1wcrCQAAAAkAAAANAAAAAAAAAAEAAACkga8AAABwYWdlcy9ob21lLmpzUEsFBgAAAAAFAAUAGAEAAOMAAAAAAA==";
