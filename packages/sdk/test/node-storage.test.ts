// The file-system storage of "@updraft/sdk/node": atomic records, appendable blobs, whole file sets.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fileStorage } from "../src/node.ts";
import { FILES_V1, FILES_V2, setup } from "./fixtures.ts";

const dirs: string[] = [];
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), "updraft-sdk-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("fileStorage", () => {
  it("keeps records across instances, replacing each by rename (no temporary file left)", async () => {
    const dir = await tempDir();
    const a = fileStorage(dir);
    await a.set("installed/shop", "one");
    await a.set("installed/shop", "two");
    await a.set("installed/日本/../x", "three");
    await a.set("failed/shop", "[]");
    const b = fileStorage(dir);
    expect(await b.get("installed/shop")).toBe("two");
    expect(await b.get("installed/日本/../x")).toBe("three");
    expect(await b.get("missing")).toBeNull();
    expect(await b.keys("installed/")).toEqual(["installed/shop", "installed/日本/../x"]);
    await b.delete("installed/shop");
    expect(await a.get("installed/shop")).toBeNull();
    expect((await readdir(join(dir, "records"))).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
  });

  it("appends blobs and refuses names that could escape", async () => {
    const s = fileStorage(await tempDir());
    await s.appendBlob("partial-ab", Uint8Array.of(1, 2));
    await s.appendBlob("partial-ab", Uint8Array.of(3));
    expect(await s.readBlob("partial-ab")).toEqual(Uint8Array.of(1, 2, 3));
    await s.deleteBlob("partial-ab");
    expect(await s.readBlob("partial-ab")).toBeNull();
    await expect(s.appendBlob("../x", Uint8Array.of(1))).rejects.toThrow();
  });

  it("writes a file set whole or not at all", async () => {
    const dir = await tempDir();
    const s = fileStorage(dir);
    await s.writeFileSet("v-1", [
      { path: "index.js", bytes: Buffer.from("a") },
      { path: "deep/dir/b.txt", bytes: Buffer.from("b") },
    ]);
    expect(await s.listFileSets()).toEqual(["v-1"]);
    expect(Buffer.from((await s.readFile("v-1", "deep/dir/b.txt")) ?? []).toString()).toBe("b");
    expect(await readFile(join(s.fileSetDir("v-1"), "index.js"), "utf8")).toBe("a");
    // The second file cannot be written: nothing of the set remains, not even its staging directory.
    await expect(
      s.writeFileSet("v-2", [
        { path: "ok.js", bytes: Buffer.from("a") },
        { path: "../../escape.js", bytes: Buffer.from("b") },
      ]),
    ).rejects.toThrow();
    expect(await s.listFileSets()).toEqual(["v-1"]);
    expect(await readdir(join(dir, "sets"))).toEqual(["v-1"]);
    await expect(s.readFile("v-1", "../v-1/index.js")).rejects.toThrow();
    await s.deleteFileSet("v-1");
    expect(await s.listFileSets()).toEqual([]);
  });

  it("installs through the client atomically and survives a restart", async () => {
    const dir = await tempDir();
    const t = setup({ storage: fileStorage(dir) });
    t.service.offer("shop", "1.0.0", FILES_V1, { sequence: 1 });
    await t.client.update("shop");
    const v1 = await t.client.installed("shop");
    t.service.offer("shop", "2.0.0", FILES_V2, { sequence: 2 });
    // A tampered package first: refused, and a relaunch still finds 1.0.0 with its files.
    t.service.state.onPackage = (_req, bytes) => {
      if (bytes.length !== t.service.offers.get("shop")?.zip.length) return undefined;
      const flipped = Uint8Array.from(bytes);
      flipped[0] = (flipped[0] as number) ^ 1;
      return {
        status: 200,
        header: () => null,
        body: (async function* () {
          yield flipped;
        })(),
      };
    };
    await expect(t.client.update("shop")).rejects.toMatchObject({ code: "HASH_MISMATCH" });
    const relaunched = setup({ storage: fileStorage(dir) });
    expect(await relaunched.client.installed("shop")).toEqual(v1);
    expect(Buffer.from((await relaunched.client.readFile("shop", "index.js")) ?? []).toString()).toBe(
      FILES_V1["index.js"],
    );
    t.service.state.onPackage = null;
    await t.client.update("shop");
    // A new client on the same directory (a relaunch) sees 2.0.0 and its files.
    const again = setup({ storage: fileStorage(dir) });
    expect(await again.client.installed("shop")).toMatchObject({ version: "2.0.0", sequence: 2 });
    expect(Buffer.from((await again.client.readFile("shop", "img/a.txt")) ?? []).toString()).toBe("A");
    await again.client.cleanup();
    expect(await fileStorage(dir).listFileSets()).toEqual([(await again.client.installed("shop"))?.fileSet]);
    expect(v1?.fileSet).not.toBe((await again.client.installed("shop"))?.fileSet);
  });
});
