// The package reader against well-formed archives (the same manifest as fflate's own unzip) and
// against archives that lie: about their entry count, sizes, CRCs and zip64 fields. The lying ones
// were found by fuzzing: a 106-byte archive claiming 40,000,000 entries kept the worker busy for
// seconds, a corrupt entry was stored with the hash of truncated bytes, and an entry named
// `__proto__` vanished from the manifest.
import { createHash } from "node:crypto";
import { strToU8, unzipSync, type Zippable, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { AppError } from "../../src/domain/errors";
import { DEFAULT_PACKAGE_LIMITS } from "../../src/domain/package";
import { crc32, fflateReader } from "../../src/edge/zip-reader";

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const read = (bytes: Uint8Array, limits = DEFAULT_PACKAGE_LIMITS) => fflateReader.manifest(bytes, limits);

async function refusal(bytes: Uint8Array, limits = DEFAULT_PACKAGE_LIMITS): Promise<AppError> {
  try {
    await read(bytes, limits);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("the archive was accepted");
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
    expect((await refusal(out)).message).toContain("too many entries");
    expect((await refusal(out, { ...DEFAULT_PACKAGE_LIMITS, maxEntries: 100_000_000 })).message).toContain(
      "central directory does not fit",
    );
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

describe("corrupt entries are refused, never stored with the hash of other bytes", () => {
  it("a wrong CRC-32", async () => {
    const zip = zipSync({ "a.js": strToU8("hello".repeat(100)) });
    const { view, central } = layout(zip);
    view.setUint32(central + 16, view.getUint32(central + 16, true) ^ 1, true);
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
    expect((await refusal(zip)).message).toContain("declared size");
  });

  it("a local header that names another path than the central directory", async () => {
    const zip = zipSync({ "a.js": strToU8("x"), "b.js": strToU8("y") });
    zip.set(strToU8("z"), 30); // the first local header's name: "a.js" becomes "z.js"
    expect((await refusal(zip)).message).toContain("local header");
  });
});
