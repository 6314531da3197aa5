// scripts/zip.mjs packs deterministically (same files → same bytes, whatever the files' times, the
// time zone or the order they are listed in), so re-uploading a re-packed folder is a replay.
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { unzipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { removeScratch, run, scratchDir, script } from "./start-support";

function folder(mtime: Date) {
  const dir = scratchDir("zip");
  mkdirSync(join(dir, "pages", "home"), { recursive: true });
  const files = { "index.js": 'console.log("hi")', "pages/home/home.js": "export {}", "app.json": "{}" };
  for (const [path, text] of Object.entries(files)) {
    writeFileSync(join(dir, path), text);
    utimesSync(join(dir, path), mtime, mtime);
  }
  return dir;
}

describe("scripts/zip.mjs", () => {
  afterAll(removeScratch);

  it("gives the same bytes for the same files across file times and time zones", async () => {
    const outs: Buffer[] = [];
    for (const [tz, mtime] of [
      ["UTC", new Date("2024-05-01T10:00:00Z")],
      ["Asia/Kolkata", new Date("2025-12-31T23:59:59Z")],
      ["America/Los_Angeles", new Date("2001-01-01T00:00:00Z")],
    ] as const) {
      const out = join(scratchDir("zip-out"), "out.zip");
      const result = await run(process.execPath, ["scripts/zip.mjs", folder(mtime), out], {
        env: { ...process.env, TZ: tz },
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("3 files");
      outs.push(readFileSync(out));
    }
    expect(outs[1]?.equals(outs[0] as Buffer)).toBe(true);
    expect(outs[2]?.equals(outs[0] as Buffer)).toBe(true);
    expect(Object.keys(unzipSync(new Uint8Array(outs[0] as Buffer)))).toEqual([
      "app.json",
      "index.js",
      "pages/home/home.js",
    ]);
  });

  it("sorts entries: the order files are given in does not matter", async () => {
    const { zipFiles } = await script("zip.mjs");
    const a = zipFiles({ "b.js": "b", "a.js": "a" });
    const b = zipFiles({ "a.js": "a", "b.js": "b" });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});
