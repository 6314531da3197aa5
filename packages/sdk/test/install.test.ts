// Installing a verified result: downgrade rule, publisher signature, download (size cap, resume,
// hash), manifest and files; failures keep the installed version and are reported in later checks.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { HttpRequest } from "../src/adapters.ts";
import type { UpdateResult } from "../src/answer.ts";
import type { UpdraftClient } from "../src/client.ts";
import { isUpdraftError, type UpdraftErrorCode } from "../src/errors.ts";
import {
  codeOf,
  endlessResponse,
  FILES_V1,
  FILES_V2,
  makeZip,
  manifestOf,
  pub,
  response,
  SEEDS,
  setup,
  sha256Hex,
  signWith,
} from "./fixtures.ts";

async function resultOf(client: UpdraftClient, id: string): Promise<UpdateResult> {
  const r = (await client.check([id])).results[0];
  if (r === undefined || (r.action !== "update" && r.action !== "rollback")) throw new Error(`no update for ${id}`);
  return r;
}

const text = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString("utf8"));

/** A client with version 1.0.0 (sequence 5) of "shop" installed through the SDK. */
async function onV1(overrides: Parameters<typeof setup>[0] = {}) {
  const t = setup(overrides);
  t.service.offer("shop", "1.0.0", FILES_V1, { sequence: 5 });
  const outcome = await t.client.update("shop");
  expect(outcome.action).toBe("update");
  const installed = await t.client.installed("shop");
  expect(installed).toMatchObject({ version: "1.0.0", sequence: 5, bundled: false });
  return { ...t, v1: installed };
}

const packageRequests = (requests: HttpRequest[]) => requests.filter((r) => r.url.includes("/v1/packages/"));

describe("install", () => {
  it("installs two mini programs with the same package bytes at once (their download takes turns)", async () => {
    const t = setup();
    const big = { ...FILES_V2, "blob.bin": randomBytes(200_000).toString("base64") };
    t.service.offer("shop", "1.0.0", big, { sequence: 1 });
    t.service.offer("shop-copy", "1.0.0", big, { sequence: 2 });
    const outcomes = await Promise.all([t.client.update("shop"), t.client.update("shop-copy")]);
    expect(outcomes.map((o) => o.action)).toEqual(["update", "update"]);
    for (const id of ["shop", "shop-copy"]) {
      expect(Buffer.from((await t.client.readFile(id, "blob.bin")) ?? []).toString()).toBe(big["blob.bin"]);
    }
  });

  it("refuses a result kept past its answer's lifetime (plus skew): the app checks again", async () => {
    const t = await onV1();
    t.service.offer("shop", "2.0.0", FILES_V2, { sequence: 6 });
    const [result] = (await t.client.check(["shop"])).results;
    if (result?.action !== "update") throw new Error("not offered");
    t.clock.advance(5 * 60_000 + 60_000 + 1);
    expect(await codeOf(t.client.install(result))).toBe("ANSWER_EXPIRED");
    expect(await t.client.installed("shop")).toEqual(t.v1);
    expect(packageRequests(t.service.requests)).toHaveLength(2); // v1's manifest and zip only
  });

  it("installs exactly the package's files and switches the installed version", async () => {
    const t = await onV1();
    const offer = t.service.offer("shop", "2.0.0", FILES_V2, { sequence: 6 });
    const outcome = await t.client.update("shop");
    expect(outcome).toMatchObject({ action: "update", installed: { version: "2.0.0", sequence: 6 } });
    const now = await t.client.installed("shop");
    expect(now).toMatchObject({
      id: "shop",
      version: "2.0.0",
      sequence: 6,
      sha256: sha256Hex(offer.zip),
      releaseId: "rel_shop_2.0.0",
      manifestSha256: sha256Hex(offer.manifest),
      bundled: false,
    });
    for (const [path, content] of Object.entries(FILES_V2))
      expect(text(await t.client.readFile("shop", path))).toBe(content);
    expect(await t.client.readFile("shop", "../x")).toBeNull();
    // The replaced version's files stay until cleanup (an async update may have it open).
    expect(await t.storage.listFileSets()).toHaveLength(2);
    // Each installed file set keeps its manifest text (a later patch's base is built from it).
    expect(await t.storage.keys("manifest/")).toHaveLength(2);
    expect(await t.storage.get(`manifest/${now?.fileSet}`)).toBe(offer.manifest);
    await t.client.cleanup();
    expect(await t.storage.listFileSets()).toEqual([now?.fileSet]);
    expect(await t.storage.keys("manifest/")).toEqual([`manifest/${now?.fileSet}`]);
    // The check after it reports the new version and its hash.
    await t.client.check(["shop"]);
    expect(t.service.checks.at(-1)?.miniPrograms).toEqual([
      { id: "shop", version: "2.0.0", sha256: sha256Hex(offer.zip), sequence: now?.sequence, failed: [] },
    ]);
  });

  it("does nothing when the result is the installed version", async () => {
    const t = await onV1();
    const before = t.service.requests.length;
    const r = await resultOf(t.client, "shop");
    expect(await t.client.install(r)).toEqual(t.v1);
    expect(t.service.requests.length).toBe(before + 1); // the check only
  });

  it("uninstalls on a verified removed answer", async () => {
    const t = await onV1();
    t.service.withdraw("shop");
    t.service.state.editAnswer = (a) => {
      a.results = [{ id: "shop", action: "removed" }];
    };
    expect((await t.client.update("shop")).action).toBe("removed");
    expect(await t.client.installed("shop")).toBeNull();
    expect(await t.storage.listFileSets()).toEqual([]);
  });
});

describe("the downgrade rule", () => {
  it("refuses a lower version without a rollback, without recording it as failed (it is about order)", async () => {
    const t = await onV1();
    t.service.offer("shop", "0.9.0", { "index.js": "old" }, { sequence: 9 });
    expect(await codeOf(t.client.update("shop"))).toBe("DOWNGRADE_REFUSED");
    expect(await t.client.installed("shop")).toEqual(t.v1);
    expect(await t.client.failedVersions("shop")).toEqual([]);
    expect(packageRequests(t.service.requests)).toHaveLength(2); // v1's manifest and zip only
  });

  it("refuses a rollback whose sequence is not above the installed one", async () => {
    const t = await onV1();
    t.service.offer("shop", "0.9.0", { "index.js": "old" }, { sequence: 5, action: "rollback" });
    expect(await codeOf(t.client.update("shop"))).toBe("DOWNGRADE_REFUSED");
    expect(await t.client.installed("shop")).toEqual(t.v1);
    t.service.offer("shop", "0.9.0", { "index.js": "old" }, { sequence: 6, action: "rollback" });
    expect((await t.client.update("shop")).installed).toMatchObject({ version: "0.9.0", sequence: 6 });
  });

  it("refuses the same version with other bytes unless rolled back", async () => {
    const t = await onV1();
    t.service.offer("shop", "1.0.0", { "index.js": "other bytes" }, { sequence: 7 });
    expect(await codeOf(t.client.update("shop"))).toBe("DOWNGRADE_REFUSED");
  });

  it("gives a bundled version sequence 0", async () => {
    const t = setup({ bundled: { shop: { version: "3.0.0" } } });
    expect(await t.client.installed("shop")).toMatchObject({ version: "3.0.0", sequence: 0, bundled: true });
    t.service.offer("shop", "2.0.0", FILES_V2, { sequence: 0, action: "rollback" });
    expect(await codeOf(t.client.update("shop"))).toBe("DOWNGRADE_REFUSED");
    t.service.offer("shop", "2.0.0", FILES_V2, { sequence: 1, action: "rollback" });
    expect((await t.client.update("shop")).installed).toMatchObject({ version: "2.0.0" });
  });
});

describe("publisher signatures", () => {
  it("refuses a result without one, with an unpinned key, or one that does not verify", async () => {
    const cases: [string, (t: ReturnType<typeof setup>) => void, UpdraftErrorCode][] = [
      [
        "unsigned",
        (t) => t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: null }),
        "PUBLISHER_SIGNATURE_MISSING",
      ],
      [
        "signed by a key the app does not pin (revoked)",
        (t) => t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: SEEDS.publisher2 }),
        "PUBLISHER_SIGNATURE_UNTRUSTED",
      ],
      [
        "signed for another version",
        (t) => {
          const o = t.service.offer("shop", "2.0.0", FILES_V2);
          const other = t.service.offer("shop", "2.0.1", FILES_V2);
          o.signature = other.signature;
          t.service.offers.set("shop", o);
        },
        "PUBLISHER_SIGNATURE_INVALID",
      ],
      [
        "a stranger's signature under the pinned key id",
        (t) => {
          const o = t.service.offer("shop", "2.0.0", FILES_V2);
          o.signature = signWith(SEEDS.stranger, "anything");
        },
        "PUBLISHER_SIGNATURE_INVALID",
      ],
    ];
    for (const [name, arrange, code] of cases) {
      const t = await onV1();
      arrange(t);
      expect(await codeOf(t.client.update("shop")), name).toBe(code);
      expect(await t.client.installed("shop"), name).toEqual(t.v1);
      // An unpinned key depends on this app's pins (an app update may add it): not a failed version.
      const recorded = code === "PUBLISHER_SIGNATURE_UNTRUSTED" ? [] : ["2.0.0"];
      expect(await t.client.failedVersions("shop"), name).toEqual(recorded);
    }
  });

  it("pinned per mini program, trusts a key only for the mini programs it is pinned for", async () => {
    const t = await onV1({ publisherKeys: { shop: [pub(SEEDS.publisher)] } });
    t.service.offer("shop", "2.0.0", FILES_V2);
    expect((await t.client.update("shop")).action).toBe("update");
    // The same publisher's key pinned only for another mini program: it cannot sign this one.
    const other = await onV1({ publisherKeys: { shop: [pub(SEEDS.publisher)] } });
    const elsewhere = setup({ storage: other.storage, publisherKeys: { coupons: [pub(SEEDS.publisher)] } });
    elsewhere.service.offer("shop", "2.0.0", FILES_V2);
    expect(await codeOf(elsewhere.client.update("shop"))).toBe("PUBLISHER_SIGNATURE_UNTRUSTED");
    expect(await elsewhere.client.installed("shop")).toEqual(other.v1);
  });

  it("allows unsigned results only when told to, never an unpinned key", async () => {
    const dev = setup({ allowUnsigned: true });
    dev.service.offer("shop", "1.0.0", FILES_V1, { publisherSeed: null });
    expect((await dev.client.update("shop")).installed).toMatchObject({ version: "1.0.0" });
    dev.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: SEEDS.publisher2 });
    expect(await codeOf(dev.client.update("shop"))).toBe("PUBLISHER_SIGNATURE_UNTRUSTED");
  });

  it("accepts any pinned key", async () => {
    const t = setup({ publisherKeys: [pub(SEEDS.publisher), pub(SEEDS.publisher2)] });
    t.service.offer("shop", "1.0.0", FILES_V1, { publisherSeed: SEEDS.publisher2 });
    expect((await t.client.update("shop")).installed).toMatchObject({ version: "1.0.0" });
  });
});

describe("downloads", () => {
  it("stop as soon as more bytes than signed arrive (endless data)", async () => {
    const t = await onV1();
    const offer = t.service.offer("shop", "2.0.0", FILES_V2);
    let endless: ReturnType<typeof endlessResponse> | undefined;
    t.service.state.onPackage = (req) => {
      if (!req.url.endsWith(sha256Hex(offer.zip))) return undefined;
      endless = endlessResponse(200);
      return endless;
    };
    expect(await codeOf(t.client.update("shop"))).toBe("SIZE_EXCEEDED");
    expect(endless?.stopped()).toBe(true);
    expect(endless?.served()).toBeLessThanOrEqual(offer.zip.length + 4096);
    expect(await t.storage.readBlob(`partial-${sha256Hex(offer.zip)}`)).toBeNull();
    expect(await t.client.installed("shop")).toEqual(t.v1);
    // Bytes the download path got wrong do not block the version: a later check may offer it again.
    expect(await t.client.failedVersions("shop")).toEqual([]);
  });

  it("refuse a Content-Length above the signed size before reading", async () => {
    const t = await onV1();
    const offer = t.service.offer("shop", "2.0.0", FILES_V2);
    let res: ReturnType<typeof response> | undefined;
    t.service.state.onPackage = (req, bytes) => {
      if (!req.url.endsWith(sha256Hex(offer.zip))) return undefined;
      res = response(200, bytes, { "content-length": String(bytes.length + 1) });
      return res;
    };
    expect(await codeOf(t.client.update("shop"))).toBe("SIZE_EXCEEDED");
    expect(res?.served()).toBe(0);
  });

  it("refuse other bytes of the right size (HASH_MISMATCH)", async () => {
    const t = await onV1();
    const offer = t.service.offer("shop", "2.0.0", FILES_V2);
    t.service.state.onPackage = (req, bytes) => {
      if (!req.url.endsWith(sha256Hex(offer.zip))) return undefined;
      const flipped = Uint8Array.from(bytes);
      flipped[10] = (flipped[10] as number) ^ 0xff;
      return response(200, flipped);
    };
    expect(await codeOf(t.client.update("shop"))).toBe("HASH_MISMATCH");
    expect(await t.client.installed("shop")).toEqual(t.v1);
    expect(await t.storage.readBlob(`partial-${sha256Hex(offer.zip)}`)).toBeNull();
  });

  it("resume with Range after an interruption, keeping the bytes received", async () => {
    const t = await onV1();
    const big = { ...FILES_V2, "big.bin": new Uint8Array(randomBytes(50_000)) }; // incompressible
    const offer = t.service.offer("shop", "2.0.0", big);
    const sha = sha256Hex(offer.zip);
    let cut = true;
    t.service.state.onPackage = (req, bytes) => {
      if (!req.url.endsWith(sha) || !cut) return undefined;
      cut = false;
      // Sends 20,000 bytes, then the connection breaks.
      return {
        status: 200,
        header: () => null,
        body: (async function* () {
          yield bytes.subarray(0, 20_000);
          throw new TypeError("connection reset");
        })(),
      };
    };
    expect((await t.client.update("shop")).installed).toMatchObject({ version: "2.0.0" });
    const zipRequests = packageRequests(t.service.requests).filter((r) => r.url.endsWith(sha));
    expect(zipRequests.map((r) => r.headers.range ?? null)).toEqual([null, "bytes=20000-"]);
    expect(text(await t.client.readFile("shop", "index.js"))).toBe(FILES_V2["index.js"]);
    expect(await t.storage.readBlob(`partial-${sha}`)).toBeNull();
  });

  it("do not ask again when the connection breaks after the last byte", async () => {
    const t = await onV1();
    const offer = t.service.offer("shop", "2.0.0", FILES_V2);
    const sha = sha256Hex(offer.zip);
    t.service.state.onPackage = (req, bytes) =>
      req.url.endsWith(sha)
        ? {
            status: 200,
            header: () => null,
            body: (async function* () {
              yield bytes;
              throw new TypeError("connection reset");
            })(),
          }
        : undefined;
    expect((await t.client.update("shop")).installed).toMatchObject({ version: "2.0.0" });
    expect(packageRequests(t.service.requests).filter((r) => r.url.endsWith(sha))).toHaveLength(1);
  });

  it("resume in a later install from the partial bytes stored, and restart on a 200 or a wrong range", async () => {
    for (const reply of ["206", "200", "bad-range"] as const) {
      const t = await onV1({ retry: { attempts: 1 } });
      const offer = t.service.offer("shop", "2.0.0", FILES_V2);
      const sha = sha256Hex(offer.zip);
      let broken = true;
      t.service.state.onPackage = (req, bytes) => {
        if (!req.url.endsWith(sha)) return undefined;
        if (broken) {
          broken = false;
          return response(200, bytes.subarray(0, 100)); // ends early: the download is incomplete
        }
        if (reply === "200") return response(200, bytes);
        if (reply === "bad-range" && req.headers.range) {
          return response(206, bytes.subarray(50), { "content-range": `bytes 50-${bytes.length - 1}/${bytes.length}` });
        }
        return undefined;
      };
      expect(await codeOf(t.client.update("shop")), reply).toBe("DOWNLOAD_INCOMPLETE");
      expect((await t.storage.readBlob(`partial-${sha}`))?.length, reply).toBe(100);
      expect(await t.client.failedVersions("shop"), reply).toEqual([]); // transient: not a failed version
      const second = await t.client.update("shop").catch((e: unknown) => e);
      const ranges = packageRequests(t.service.requests)
        .filter((r) => r.url.endsWith(sha))
        .map((r) => r.headers.range ?? null);
      if (reply === "bad-range") {
        // The wrong range drops the partial bytes; with one attempt the install ends, and the next starts at 0.
        expect(isUpdraftError(second, "DOWNLOAD_INCOMPLETE"), reply).toBe(true);
        expect(ranges).toEqual([null, "bytes=100-"]);
        expect(await t.storage.readBlob(`partial-${sha}`)).toBeNull();
        await t.client.update("shop");
      } else {
        expect(ranges, reply).toEqual([null, "bytes=100-"]);
      }
      expect(await t.client.installed("shop"), reply).toMatchObject({ version: "2.0.0" });
    }
  });

  it("start over once when bytes resumed from an earlier partial do not hash", async () => {
    const t = await onV1();
    const offer = t.service.offer("shop", "2.0.0", FILES_V2);
    const sha = sha256Hex(offer.zip);
    await t.storage.appendBlob(`partial-${sha}`, new Uint8Array(100).fill(1)); // corrupt leftovers
    expect((await t.client.update("shop")).installed).toMatchObject({ version: "2.0.0" });
    expect(
      packageRequests(t.service.requests)
        .filter((r) => r.url.endsWith(sha))
        .map((r) => r.headers.range ?? null),
    ).toEqual(["bytes=100-", null]);
  });
});

describe("manifest and files", () => {
  /** Serves `zip` in place of the offered package, under an answer (re-signed by the service key) that names it. */
  function substitute(
    t: Awaited<ReturnType<typeof onV1>>,
    files: Record<string, string | Uint8Array>,
    manifest?: string,
  ) {
    const good = t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: null });
    const zip = makeZip(files);
    t.service.blobs.set(sha256Hex(zip), zip);
    t.service.offers.set("shop", { ...good, zip, ...(manifest === undefined ? {} : { manifest }) });
    if (manifest !== undefined) t.service.blobs.set(sha256Hex(manifest), Buffer.from(manifest));
  }

  const cases: [string, Record<string, string | Uint8Array>][] = [
    ["an extra file", { ...FILES_V2, "evil.js": "steal()" }],
    ["a missing file", { "index.js": FILES_V2["index.js"], "app.json": FILES_V2["app.json"] }],
    ["an altered file", { ...FILES_V2, "index.js": "console.log('v3')" }],
    ["a resized file", { ...FILES_V2, "img/a.txt": "AA" }],
  ];
  for (const [name, files] of cases) {
    it(`refuse a package whose files differ from the manifest: ${name}`, async () => {
      // Without publisher signatures (development) the manifest is what catches it.
      const t = await onV1({ allowUnsigned: true });
      substitute(t, files);
      expect(await codeOf(t.client.update("shop"))).toBe("MANIFEST_MISMATCH");
      expect(await t.client.installed("shop")).toEqual(t.v1);
      expect(await t.client.failedVersions("shop")).toEqual(["2.0.0"]);
      expect(await t.storage.listFileSets()).toEqual([t.v1?.fileSet]);
    });
  }

  it("refuse a manifest whose bytes are not its signed sha256, or not canonical", async () => {
    const t = await onV1({ allowUnsigned: true });
    const good = t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: null });
    t.service.blobs.set(sha256Hex(good.manifest), Buffer.from(`${good.manifest}x`));
    expect(await codeOf(t.client.update("shop"))).toBe("HASH_MISMATCH");
    expect(await t.client.failedVersions("shop")).toEqual([]);
    // Well hashed but not canonical (unsorted).
    const unsorted = good.manifest.split("\n").filter(Boolean).reverse().join("\n").concat("\n");
    substitute(t, FILES_V2, unsorted);
    expect(await codeOf(t.client.update("shop"))).toBe("MANIFEST_MISMATCH");
  });

  it("refuse a result without a manifest", async () => {
    const t = await onV1({ allowUnsigned: true });
    t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: null });
    t.service.state.editAnswer = (a) => {
      const pkg = (a.results as { package: Record<string, unknown> }[])[0]?.package;
      if (pkg) Object.assign(pkg, { manifestUrl: null, manifestSha256: null });
    };
    expect(await codeOf(t.client.update("shop"))).toBe("MANIFEST_MISSING");
  });

  it("refuse a package that is no zip, or holds an unsafe path", async () => {
    const t = await onV1({ allowUnsigned: true });
    substitute(t, FILES_V2);
    const good = t.service.offers.get("shop");
    if (!good) throw new Error("no offer");
    const junk = new Uint8Array(500).fill(7);
    t.service.blobs.set(sha256Hex(junk), junk);
    t.service.offers.set("shop", { ...good, zip: junk });
    expect(await codeOf(t.client.update("shop"))).toBe("PACKAGE_INVALID");
    const evil = { "../escape.js": "x" };
    substitute(t, evil, manifestOf(evil));
    expect(await codeOf(t.client.update("shop"))).toBe("PACKAGE_INVALID");
  });
});

describe("failed versions", () => {
  it("are sent with the next check and cleared once another version installs", async () => {
    const t = await onV1();
    t.service.offer("shop", "2.0.0", FILES_V2, { publisherSeed: null });
    await codeOf(t.client.update("shop"));
    await codeOf(t.client.update("shop"));
    expect(t.service.checks.at(-1)?.miniPrograms).toEqual([
      expect.objectContaining({ id: "shop", version: "1.0.0", failed: ["2.0.0"] }),
    ]);
    t.service.offer("shop", "2.0.1", FILES_V2);
    await t.client.update("shop");
    expect(await t.client.failedVersions("shop")).toEqual([]);
    await t.client.reportFailure("shop", "2.0.1");
    await t.client.reportFailure("shop", "2.0.1");
    expect(await t.client.failedVersions("shop")).toEqual(["2.0.1"]);
  });
});

describe("atomicity", () => {
  it("keeps the installed version when staging or switching fails", async () => {
    const t = await onV1();
    t.service.offer("shop", "2.0.0", FILES_V2);
    const storage = t.storage;
    const failing = setup({
      storage: {
        ...storage,
        keys: storage.keys,
        set: async (key, value) => {
          if (key.startsWith("installed/")) throw new Error("disk full");
          return storage.set(key, value);
        },
      },
      http: t.service.http,
    });
    expect(await codeOf(failing.client.update("shop"))).toBe("STORAGE_ERROR");
    expect(await t.client.installed("shop")).toEqual(t.v1);
    expect(await storage.listFileSets()).toEqual([t.v1?.fileSet]); // the staged set was dropped
    expect(text(await t.client.readFile("shop", "index.js"))).toBe(FILES_V1["index.js"]);
  });

  it("never lets cleanup delete the files of an install in progress", async () => {
    const t = await onV1();
    t.service.offer("shop", "2.0.0", FILES_V2);
    const storage = t.storage;
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let switching: () => void = () => undefined;
    const atSwitch = new Promise<void>((resolve) => {
      switching = resolve;
    });
    const slow = setup({
      storage: {
        ...storage,
        set: async (key, value) => {
          if (key.startsWith("installed/")) {
            switching();
            await gate; // the files are staged; the record is not switched yet
          }
          return storage.set(key, value);
        },
      },
      http: t.service.http,
    });
    const installing = slow.client.update("shop");
    await atSwitch;
    const cleaning = slow.client.cleanup();
    open();
    await Promise.all([installing, cleaning]);
    const now = await t.client.installed("shop");
    expect(now?.version).toBe("2.0.0");
    expect(await storage.listFileSets()).toContain(now?.fileSet);
    expect(text(await t.client.readFile("shop", "index.js"))).toBe(FILES_V2["index.js"]);
  });

  it("serializes installs of one mini program", async () => {
    const t = await onV1();
    t.service.offer("shop", "2.0.0", FILES_V2);
    const r = await resultOf(t.client, "shop");
    const [a, b] = await Promise.all([t.client.install(r), t.client.install(r)]);
    expect(b).toEqual(a); // the second found it installed
    expect(await t.storage.listFileSets()).toHaveLength(2);
  });
});
