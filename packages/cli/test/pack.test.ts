// `updraft pack` and the packer behind it (also scripts/zip.mjs): the same files always give the
// same bytes, whatever order they were written in and whatever their times; the manifest sha256 is
// the one the service computes from the zip; links may not leave the folder.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { manifestText } from "@updraft/sdk/canonical";
import { unzipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { packFolder, readFolder, zipFiles } from "../src/pack.ts";
import { Scratch } from "./harness.ts";

const scratch = new Scratch();
afterAll(() => scratch.remove());

const sha = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

const FILES: [string, string][] = [
  ["index.js", 'console.log("hi")\n'],
  ["app.json", "{}"],
  ["pages/home/home.js", "export {}"],
  [".env.example", "A=1"],
  ["assets/中文.txt", "unicode"],
];

let folders = 0;
/** The same files in a new folder, written in the given order with the given time. */
function folder(order: [string, string][], mtime: Date): string {
  const dir = scratch.path(`src-${folders++}`);
  for (const [path, text] of order) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
    utimesSync(join(dir, path), mtime, mtime);
  }
  return dir;
}

describe("updraft pack", () => {
  it("gives the same bytes for the same files, whatever their order of creation and their times", async () => {
    const a = folder(FILES, new Date("2024-05-01T10:00:00Z"));
    const b = folder([...FILES].reverse(), new Date("2001-01-01T00:00:00Z"));
    expect((await scratch.run(["pack", a, "--out", "a.zip"])).code).toBe(0);
    const second = await scratch.run(["pack", b, "--out", "b.zip", "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const zipA = readFileSync(scratch.path("a.zip"));
    const zipB = readFileSync(scratch.path("b.zip"));
    expect(zipB.equals(zipA)).toBe(true);
    const result = JSON.parse(second.stdout);
    expect(result).toMatchObject({ sha256: sha(zipA), size: zipA.length, fileCount: FILES.length });
  });

  it("prints the manifest sha256 the service computes from the zip's entries", async () => {
    const dir = folder(FILES, new Date());
    const result = await scratch.run(["pack", dir, "--out", "m.zip", "--json"]);
    const entries = unzipSync(new Uint8Array(readFileSync(scratch.path("m.zip"))));
    const manifest = Object.entries(entries).map(([path, bytes]) => ({ path, sha256: sha(bytes), size: bytes.length }));
    expect(Object.keys(entries).sort()).toEqual(FILES.map(([p]) => p).sort());
    expect(JSON.parse(result.stdout).manifestSha256).toBe(sha(manifestText(manifest)));
  });

  it("stores entries sorted, with the fixed 1980-01-01 time and no file metadata", () => {
    const zip = zipFiles({ "b.js": "b", "a.js": "a" });
    expect(Buffer.from(zip).equals(Buffer.from(zipFiles({ "a.js": "a", "b.js": "b" })))).toBe(true);
    const view = new DataView(zip.buffer, zip.byteOffset);
    expect(view.getUint32(0, true)).toBe(0x04034b50);
    // DOS time 00:00:00 and date 1980-01-01 ((0 << 9) | (1 << 5) | 1) in the first local header.
    expect(view.getUint16(10, true)).toBe(0);
    expect(view.getUint16(12, true)).toBe(33);
    expect(new TextDecoder().decode(zip.subarray(30, 34))).toBe("a.js");
  });

  it("is the one packer: scripts/zip.mjs re-exports it", async () => {
    const zipScript = await import(new URL("../../../scripts/zip.mjs", import.meta.url).href);
    expect(zipScript.zipFiles).toBe(zipFiles);
    expect(zipScript.readFolder).toBe(readFolder);
  });

  it("gives the same bytes in another time zone (the real binary)", () => {
    const dir = folder(FILES, new Date());
    const bin = join(import.meta.dirname, "..", "bin", "updraft.mjs");
    const outs = ["UTC", "Asia/Kolkata", "America/Los_Angeles"].map((tz) =>
      execFileSync(process.execPath, [bin, "pack", dir, "--json"], { env: { ...process.env, TZ: tz } }).toString(),
    );
    expect(new Set(outs.map((o) => JSON.parse(o).sha256)).size).toBe(1);
  });

  it("follows a link that stays inside the folder", async () => {
    const dir = folder([["lib/real.js", "x"]], new Date());
    symlinkSync("lib/real.js", join(dir, "alias.js"));
    symlinkSync("lib", join(dir, "lib2"));
    expect(Object.keys(readFolder(dir)).sort()).toEqual(["alias.js", "lib/real.js", "lib2/real.js"]);
  });

  it("refuses a link out of the folder, a broken link and a loop (exit 4), naming the path", async () => {
    const outside = folder([["secret.txt", "s"]], new Date());
    const escaping = folder([["index.js", "x"]], new Date());
    symlinkSync(join(outside, "secret.txt"), join(escaping, "leak.txt"));
    const refused = await scratch.run(["pack", escaping]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^error: cannot pack: leak\.txt is a symbolic link to .*outside/);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);

    const broken = folder([["index.js", "x"]], new Date());
    symlinkSync("nowhere.js", join(broken, "dangling.js"));
    expect((await scratch.run(["pack", broken])).stderr).toContain("dangling.js is a broken symbolic link");

    const loop = folder([["a/index.js", "x"]], new Date());
    symlinkSync("..", join(loop, "a", "up"));
    expect((await scratch.run(["pack", loop])).stderr).toContain("a/up is a symbolic link loop");
  });

  it("includes dotfiles and warns about .git and .DS_Store instead of skipping them", async () => {
    const dir = folder(
      [
        ["index.js", "x"],
        [".DS_Store", "junk"],
        [".git/HEAD", "ref"],
      ],
      new Date(),
    );
    const result = await scratch.run(["pack", dir, "--json", "--list"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).files.map((f: { path: string }) => f.path)).toEqual([
      ".DS_Store",
      ".git/HEAD",
      "index.js",
    ]);
    expect(result.stderr).toContain("warning: .DS_Store is included");
    expect(result.stderr).toContain("warning: .git is included");
  });

  it("refuses an empty folder, a missing one and a file name with a newline", async () => {
    mkdirSync(scratch.path("empty", "sub"), { recursive: true });
    expect((await scratch.run(["pack", "empty"])).stderr).toContain("no files to pack");
    expect((await scratch.run(["pack", "missing"])).code).toBe(4);
    const odd = folder([["ok.js", "x"]], new Date());
    writeFileSync(join(odd, "bad\nname.js"), "x");
    const result = await scratch.run(["pack", odd]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("control character");
  });

  it("packFolder's facts match the zip it returns", () => {
    const pkg = packFolder(folder(FILES, new Date()));
    expect(pkg.sha256).toBe(sha(pkg.bytes));
    expect(pkg.size).toBe(pkg.bytes.length);
    expect(pkg.files.map((f) => f.path)).toEqual(FILES.map(([p]) => p).sort());
  });
});
