// The package reader against well-formed archives (the same manifest as fflate's own unzip) and
// against archives that lie: about their entry count, sizes, CRCs and zip64 fields. The lying ones
// were found by fuzzing: a 106-byte archive claiming 40,000,000 entries kept the worker busy for
// seconds, a corrupt entry was stored with the hash of truncated bytes, and an entry named
// `__proto__` vanished from the manifest.
//
// Every archive the reader accepts here is also read the way an extractor that never looks at the
// central directory reads it (test/support/zip-sequential.ts, like Java's ZipInputStream): both
// views must list the same names with the same bytes. Two-faced archives (zip-two-faced.test.ts)
// are refused.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { strToU8, unzipSync, Zip, ZipDeflate, ZipPassThrough, type Zippable, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { DEFAULT_PACKAGE_LIMITS } from "../../src/domain/package";
import { crc32 } from "../../src/edge/zip-reader";
import { read, refusal } from "../support/read-package";
import { buildZip, makeZip } from "../support/zip";

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** The chunks fflate's streaming Zip emitted, as one archive. */
function joined(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Offsets of a (single-disk, non-zip64) archive's end record and its first central header. */
function layout(zip: Uint8Array) {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  expect(view.getUint32(eocd, true)).toBe(0x06054b50);
  return { view, eocd, central: view.getUint32(eocd + 16, true) };
}

/** The manifest fflate's own unzipSync gives (directories left out), for comparison. */
function fflateManifest(zip: Uint8Array) {
  return Object.entries(unzipSync(zip))
    .filter(([path]) => !path.endsWith("/"))
    .map(([path, data]) => ({ path, size: data.length, sha256: sha(data) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

describe("crc32", () => {
  it("gives the standard check value", () => {
    expect(crc32(strToU8("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe("well-formed archives", () => {
  it("give fflate's manifest: stored and deflated entries, directories, UTF-8 names", async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 20; round++) {
      const files: Zippable = { "dir/": new Uint8Array(0) };
      for (let f = 0; f < 1 + (random() % 8); f++) {
        const data = Uint8Array.from({ length: random() % 5000 }, () => (random() % 7 === 0 ? random() : 65) & 0xff);
        files[`dir/${f}-${round}-ü.js`] = [data, { level: f % 2 === 0 ? 0 : 6 }];
      }
      const zip = zipSync(files);
      expect(await read(zip)).toEqual(fflateManifest(zip));
    }
  });

  it("list entries named like members of every object, __proto__ included", async () => {
    // fflate cannot write an entry named `__proto__`: write `XXproto__`, then rename it in both headers.
    const zip = zipSync({ XXproto__: strToU8("a"), constructor: strToU8("b"), toString: strToU8("c") });
    for (let i = 0; i + 9 <= zip.length; i++) {
      if (String.fromCharCode(...zip.subarray(i, i + 9)) === "XXproto__") zip.set(strToU8("__"), i);
    }
    const paths = (await read(zip)).map((f) => f.path);
    // fflate's own unzip loses `__proto__` (it becomes the result object's prototype).
    expect(paths).toEqual(["__proto__", "constructor", "toString"]);
  });
});

describe("every kind of archive accepted reads the same from its central directory and from its local headers", () => {
  const text = (n: number) => strToU8(`console.log(${n});\n`.repeat(40 + n));
  const binary = (n: number) => Uint8Array.from({ length: 3000 + n }, (_, i) => (i * 2654435761 + n) >>> 24);

  it("makeZip's (the integration tests' uploads)", async () => {
    const zip = makeZip({ "index.js": "a", "app.json": "{}", "pages/home/index.js": "Page({})", "中文.js": "x" });
    expect((await read(zip)).map((f) => f.path)).toEqual(["app.json", "index.js", "pages/home/index.js", "中文.js"]);
  });

  it("scripts/zip.mjs's (the one documented for packaging a folder)", async () => {
    const folder = mkdtempSync(join(tmpdir(), "updraft-zip-"));
    try {
      mkdirSync(join(folder, "src", "pages"), { recursive: true });
      writeFileSync(join(folder, "src", "index.js"), text(1));
      writeFileSync(join(folder, "src", "pages", "logo.bin"), binary(1));
      writeFileSync(join(folder, "src", "empty.txt"), "");
      execFileSync(process.execPath, ["scripts/zip.mjs", join(folder, "src"), join(folder, "out.zip")]);
      const zip = new Uint8Array(readFileSync(join(folder, "out.zip")));
      expect((await read(zip)).map((f) => f.path)).toEqual(["empty.txt", "index.js", "pages/logo.bin"]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("fflate's streaming Zip: deflated entries followed by data descriptors", async () => {
    const chunks: Uint8Array[] = [];
    const zip = new Zip((error, chunk) => {
      if (error) throw error;
      chunks.push(chunk);
    });
    for (const [name, data] of [
      ["index.js", text(2)],
      ["assets/logo.bin", binary(2)],
      ["empty.js", new Uint8Array(0)],
    ] as const) {
      const entry = new ZipDeflate(name, { level: 6 });
      zip.add(entry);
      entry.push(data, true);
    }
    zip.end();
    const bytes = joined(chunks);
    expect(new DataView(bytes.buffer).getUint16(6, true) & 8).toBe(8);
    expect((await read(bytes)).map((f) => f.path)).toEqual(["assets/logo.bin", "empty.js", "index.js"]);
  });

  it("hand-built: stored and deflated, descriptors with and without signature, directories, UTF-8", async () => {
    const zip = buildZip([
      { name: "pages/", data: new Uint8Array(0), method: 0, external: 0x10 },
      { name: "pages/a.js", data: text(3), method: 0 },
      { name: "pages/b.js", data: text(4) },
      { name: "pages/c.bin", data: binary(5), descriptor: true },
      { name: "pages/d.bin", data: binary(6), descriptor: "unsigned" },
      { name: "pages/ü/文件.js", data: text(7), descriptor: true },
      { name: "empty.js", data: new Uint8Array(0), method: 0 },
      { name: "empty-deflated.js", data: new Uint8Array(0), descriptor: true },
    ]);
    expect(await read(zip)).toHaveLength(7);
  });

  it("but a stored entry with a data descriptor (fflate's ZipPassThrough) is refused", async () => {
    // A sequential reader cannot tell where such an entry ends: ZipInputStream refuses it, others
    // search for the descriptor's signature (which the data may contain).
    const chunks: Uint8Array[] = [];
    const zip = new Zip((error, chunk) => {
      if (error) throw error;
      chunks.push(chunk);
    });
    const entry = new ZipPassThrough("index.js");
    zip.add(entry);
    entry.push(text(8), true);
    zip.end();
    const bytes = joined(chunks);
    expect((await refusal(bytes)).message).toContain("stored with a data descriptor");
  });
});

describe("archives that lie are refused before anything is inflated", () => {
  const small = () => zipSync({ "index.js": strToU8("console.log(1)".repeat(50)) });

  it("an end record claiming more entries than the limit", async () => {
    const zip = small();
    const { view, eocd } = layout(zip);
    view.setUint16(eocd + 8, 0xffff, true);
    view.setUint16(eocd + 10, 0xffff, true);
    expect((await refusal(zip)).message).toContain("too many entries");
  });

  it("a zip64 end record claiming 40,000,000 entries in a 100-odd-byte archive", async () => {
    const zip = small();
    const { eocd, central } = layout(zip);
    const body = zip.subarray(0, eocd);
    const out = new Uint8Array(body.length + 56 + 20 + 22);
    out.set(body);
    const view = new DataView(out.buffer);
    const record = body.length;
    view.setUint32(record, 0x06064b50, true);
    view.setUint32(record + 32, 40_000_000, true); // entries on this disk / in total (low words)
    view.setUint32(record + 24, 40_000_000, true);
    view.setUint32(record + 48, central, true);
    const locator = record + 56;
    view.setUint32(locator, 0x07064b50, true);
    view.setUint32(locator + 8, record, true);
    const end = locator + 20;
    view.setUint32(end, 0x06054b50, true);
    view.setUint16(end + 8, 0xffff, true);
    view.setUint16(end + 10, 0xffff, true);
    view.setUint32(end + 16, 0xffffffff, true);
    // zip64 is refused outright (packages are far below its limits), whatever it claims.
    expect((await refusal(out)).message).toContain("zip64");
    expect((await refusal(out, { ...DEFAULT_PACKAGE_LIMITS, maxEntries: 100_000_000 })).message).toContain("zip64");
  });

  it("a central directory that starts past the end", async () => {
    const zip = small();
    const { view, eocd } = layout(zip);
    view.setUint32(eocd + 16, zip.length + 1000, true);
    expect((await refusal(zip)).code).toBe("INVALID_PACKAGE");
  });

  it("a zip64 size marker without its zip64 field (fflate would search for it without end)", async () => {
    const zip = small();
    const { view, central } = layout(zip);
    view.setUint32(central + 24, 0xffffffff, true);
    expect((await refusal(zip)).message).toContain("zip64");
  });

  it("declared sizes past the uncompressed limit", async () => {
    const zip = small();
    const { view, central } = layout(zip);
    view.setUint32(central + 24, 200 * 1024 * 1024, true);
    expect((await refusal(zip)).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("an unsupported compression method", async () => {
    const zip = small();
    const { view, central } = layout(zip);
    view.setUint16(central + 10, 12, true); // bzip2
    expect((await refusal(zip)).message).toContain("compression method");
  });
});

describe("the most entries, each as deep as a name may go", () => {
  // 10,000 entries of 251 segments (506 characters) once took seconds of CPU to check for
  // conflicting paths, twice over when a name lacks the UTF-8 flag (the code page 437 pass).
  const deep = (i: number, last = "x.js") => `${i.toString(36)}/${"a/".repeat(249)}${last}`;
  const entries = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ name: deep(i), data: new Uint8Array(0), method: 0 }));
  const unflagged = { name: "é.js", data: strToU8("x"), noUtf8Flag: true };

  it("are read, in both the UTF-8 and the code page 437 pass", async () => {
    const manifest = await read(buildZip([...entries(9_999), unflagged]));
    expect(manifest).toHaveLength(10_000);
    expect(manifest.filter((file) => file.path.split("/").length === 251)).toHaveLength(9_999);
  });

  it("and refused when two of them differ only in case", async () => {
    const zip = buildZip([...entries(9_998), unflagged, { name: deep(0, "X.JS"), data: new Uint8Array(0), method: 0 }]);
    expect((await refusal(zip)).message).toContain("differ only in case");
  });
});

describe("corrupt entries are refused, never stored with the hash of other bytes", () => {
  it("a wrong CRC-32", async () => {
    const zip = zipSync({ "a.js": strToU8("hello".repeat(100)) });
    const { view, central } = layout(zip);
    view.setUint32(central + 16, view.getUint32(central + 16, true) ^ 1, true);
    view.setUint32(14, view.getUint32(14, true) ^ 1, true); // the local header's copy
    expect((await refusal(zip)).message).toContain("CRC-32");
  });

  it("an entry that inflates past its declared size, with the CRC of the declared prefix", async () => {
    // Found by review: an inflater writing into a buffer of the declared size drops the rest without
    // a word (and keeps inflating: 30 MiB of zeros here, up to 1,032 bytes per uploaded byte).
    const zip = zipSync({ "a.js": [new Uint8Array(30 * 1024 * 1024), { level: 9 }] });
    const { view, central } = layout(zip);
    const prefixCrc = crc32(new Uint8Array(10));
    for (const [crcAt, sizeAt] of [
      [central + 16, central + 24],
      [14, 22], // the local header's copies
    ]) {
      view.setUint32(crcAt as number, prefixCrc, true);
      view.setUint32(sizeAt as number, 10, true);
    }
    expect((await refusal(zip)).message).toContain("declared size");
  });

  it("a declared size larger than what the entry inflates to", async () => {
    const zip = zipSync({ "a.js": [strToU8("y".repeat(1000)), { level: 9 }] });
    const { view, central } = layout(zip);
    view.setUint32(central + 24, 5000, true);
    view.setUint32(22, 5000, true); // the local header's copy
    expect((await refusal(zip)).message).toContain("declared size");
  });

  it("a local header that names another path than the central directory", async () => {
    const zip = zipSync({ "a.js": strToU8("x"), "b.js": strToU8("y") });
    zip.set(strToU8("z"), 30); // the first local header's name: "a.js" becomes "z.js"
    expect((await refusal(zip)).message).toContain("local header");
  });
});
