// Incremental patches end to end in workerd with the real local D1, R2, KV, Durable Objects and
// Queue: a version going out enqueues its patch jobs, the Worker's own consumer builds them, the
// check offers them, and the SDK applies one to exactly the target's files, or falls back to the
// full package when the patch is broken, unusable or not for what the device really has.
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  type ClientOptions,
  createClient,
  type FetchLike,
  fetchHttp,
  type MemoryStorage,
  memoryStorage,
  PATCH_FORMAT,
  type UpdraftError,
  utf8Decode,
} from "../../packages/sdk/src/index.ts";
import { createApp, createMiniProgram, createRelease, expectJson, goFull } from "../support/admin-factories";
import { publicKeyOf, signWith, TEST_SEEDS } from "../support/trust";
import { BASE, call, makeWorkspace } from "../support/workspace";
import { makeZip, sha256Hex } from "../support/zip";

type Json = Record<string, unknown>;

interface PatchJson {
  id: string;
  baseVersion: string;
  targetVersion: string;
  format: string;
  status: string;
  sha256: string | null;
  size: number | null;
  attempts: number;
  error: string | null;
  buildMs: number | null;
  memoryBytes: number | null;
}

/** A mini program's files at a version: shared text that changes a little, renamed hashed chunks, new files. */
function filesAt(version: string, hash: string): Record<string, string> {
  const lines = Array.from({ length: 400 }, (_, i) => `export const line${i} = "component ${i} of the page";`);
  return {
    "app.json": JSON.stringify({ version, pages: ["pages/home", "pages/cart"] }),
    "pages/home.js": `${lines.join("\n")}\n// built for ${version}`,
    "pages/cart.js": lines.slice(0, 300).reverse().join("\n"),
    [`chunks/vendor.${hash}.js`]: `${"vendor code that rarely changes; ".repeat(300)}${version}`,
    "assets/logo.svg": `<svg>${"<path d='M0 0L10 10'/>".repeat(100)}</svg>`,
  };
}

const V1 = filesAt("1.0.0", "a1b2c3");
const V2 = { ...filesAt("1.1.0", "d4e5f6"), "pages/new.js": "export default 'a new page';" };

let token: string;
let appKey: string;
let mp: string;
/** The mini program's key: what devices send. */
let key: string;

async function upload(version: string, files: Record<string, string>) {
  const res = await call(`/v1/admin/mini-programs/${mp}/versions?version=${version}`, {
    method: "POST",
    token,
    headers: { "content-type": "application/zip" },
    body: makeZip(files),
  });
  return expectJson<{ id: string; sha256: string; size: number; manifestSha256: string }>(res, 201);
}

async function release(version: string, envName = "prod", rollback = false) {
  const r = await createRelease(token, { miniProgramId: mp, version, appId: appKey, env: envName, rollback });
  await goFull(token, r.id);
  return r;
}

async function patches(query = ""): Promise<PatchJson[]> {
  const res = await call(`/v1/admin/mini-programs/${mp}/patches${query}`, { token });
  return (await expectJson<{ items: PatchJson[] }>(res, 200)).items;
}

/** Waits until the patch between two versions is no longer pending (the Queue consumer ran). */
async function settled(base: string, target: string): Promise<PatchJson> {
  return vi.waitFor(
    async () => {
      const p = (await patches()).find((x) => x.baseVersion === base && x.targetVersion === target);
      if (p === undefined || p.status === "pending") throw new Error(`patch ${base} → ${target} is still pending`);
      return p;
    },
    { timeout: 15_000, interval: 100 },
  );
}

async function check(body: Json): Promise<Json> {
  const res = await call("/v1/check", { method: "POST", json: { appId: appKey, env: "prod", ...body } });
  return expectJson<Json>(res, 200);
}

function device(storage: MemoryStorage, extra: Partial<ClientOptions> = {}, fetchImpl?: FetchLike) {
  return createClient({
    baseUrl: BASE,
    appId: appKey,
    env: "prod",
    deviceId: "patch-device",
    rootKeys: [publicKeyOf(TEST_SEEDS.root)],
    publisherKeys: [],
    allowUnsigned: true,
    storage,
    http: fetchHttp(fetchImpl ?? fetchThrough),
    sleep: async () => undefined,
    ...extra,
  });
}

async function filesOf(client: ReturnType<typeof device>, id: string, files: Record<string, string>) {
  const out: Record<string, string> = {};
  for (const path of Object.keys(files))
    out[path] = utf8Decode((await client.readFile(id, path)) ?? new Uint8Array()) ?? "";
  return out;
}

let onV1: MemoryStorage;
let v1: { sha256: string; size: number };
let v2: { sha256: string; size: number };

beforeAll(async () => {
  token = (await makeWorkspace()).token;
  appKey = (await createApp(token)).key;
  const created = await createMiniProgram(token);
  mp = created.id;
  key = created.key;
  v1 = await upload("1.0.0", V1);
  await release("1.0.0");
  // A device installs 1.0.0 through the SDK (so it has its files and manifest).
  onV1 = memoryStorage();
  const outcome = await device(onV1).update(key);
  expect(outcome.action).toBe("update");
  v2 = await upload("1.1.0", V2);
  await release("1.1.0");
});

describe("incremental patches", () => {
  it("are built on the Queue when a version goes out, and the SDK applies one to exactly the target's files", async () => {
    const p = await settled("1.0.0", "1.1.0");
    expect(p).toMatchObject({ status: "ready", format: PATCH_FORMAT, error: null });
    expect(p.size).toBeLessThan(v2.size / 2);
    expect(p.buildMs).not.toBeNull();
    expect(p.memoryBytes).toBeGreaterThan(0);

    const storage = onV1.clone();
    const warnings: UpdraftError[] = [];
    const client = device(storage, { onWarning: (w) => warnings.push(w) });
    const answer = await client.check([key]);
    const result = answer.results[0] as { action: string; patch: Json | null };
    expect(result.patch).toEqual({
      url: `${BASE}/v1/packages/${p.sha256}`,
      sha256: p.sha256,
      size: p.size,
      baseSha256: v1.sha256,
      format: PATCH_FORMAT,
    });
    const outcome = await client.update(key);
    expect(outcome.action).toBe("update");
    expect(outcome.installed?.version).toBe("1.1.0");
    expect(outcome.installed?.via).toBe("patch");
    expect(warnings).toEqual([]);
    expect(await filesOf(client, key, V2)).toEqual(V2);
    // Nothing more: the file set holds exactly the target's files.
    expect(await client.readFile(key, "chunks/vendor.a1b2c3.js")).toBeNull();
  });

  it("the package route serves the patch bytes, content-addressed", async () => {
    const p = await settled("1.0.0", "1.1.0");
    const res = await call(`/v1/packages/${p.sha256}`);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(p.size);
  });

  it("offers the patch only for the exact base, a declared format, and explains the choice", async () => {
    const p = await settled("1.0.0", "1.1.0");
    const mini = (extra: Json) => ({ miniPrograms: [{ id: key, version: "1.0.0", sha256: v1.sha256, ...extra }] });
    const offered = async (body: Json) => ((await check(body)).results as Json[])[0] as Json;
    expect((await offered({ deviceId: "d1", patchFormats: [PATCH_FORMAT], ...mini({}) })).patch).toMatchObject({
      sha256: p.sha256,
    });
    // No formats declared, another format, another base, or the base's sha256 under another version.
    expect((await offered({ deviceId: "d1", ...mini({}) })).patch).toBeUndefined();
    expect((await offered({ deviceId: "d1", patchFormats: ["bsdiff-v9"], ...mini({}) })).patch).toBeUndefined();
    expect(
      (await offered({ deviceId: "d1", patchFormats: [PATCH_FORMAT], ...mini({ sha256: "0".repeat(64) }) })).patch,
    ).toBeUndefined();

    const explain = async (m: Json, formats: string[]) => {
      const res = await call("/v1/admin/explain", {
        method: "POST",
        token,
        json: { appId: appKey, env: "prod", deviceId: "d1", patchFormats: formats, miniPrograms: [m] },
      });
      return ((await expectJson<Json>(res, 200)).results as Json[])[0]?.delivery as Json;
    };
    expect(await explain({ id: key, version: "1.0.0", sha256: v1.sha256 }, [PATCH_FORMAT])).toMatchObject({
      download: "patch",
      reason: "PATCH",
      patch: { sha256: p.sha256, baseVersion: "1.0.0" },
    });
    expect(await explain({ id: key, version: "1.0.0", sha256: v1.sha256 }, [])).toMatchObject({
      download: "package",
      reason: "NO_PATCH_FORMATS",
    });
    expect(await explain({ id: key, version: "1.0.0", sha256: "0".repeat(64) }, [PATCH_FORMAT])).toMatchObject({
      download: "package",
      reason: "NO_PATCH_FOR_BASE",
    });
  });

  it("a corrupted or truncated patch download falls back to the full package, with a warning", async () => {
    const p = await settled("1.0.0", "1.1.0");
    // flip: the bytes do not hash to the signed sha256 (the patch is remembered as failed);
    // truncate: the download keeps ending early (a transfer failure: tried again at a later install).
    for (const [damage, remembered] of [
      ["flip", [p.sha256]],
      ["truncate", []],
    ] as const) {
      const storage = onV1.clone();
      const warnings: UpdraftError[] = [];
      const tampering: FetchLike = async (url, init) => {
        const res = await fetchThrough(url, init);
        if (!url.endsWith(`/v1/packages/${p.sha256}`)) return res;
        const bytes = new Uint8Array(await res.arrayBuffer());
        const bad = damage === "flip" ? flip(bytes, Math.floor(bytes.length / 2)) : bytes.slice(0, bytes.length >> 1);
        return new Response(bad, { status: 200, headers: { "content-type": "application/octet-stream" } });
      };
      const client = device(storage, { onWarning: (w) => warnings.push(w) }, tampering);
      const outcome = await client.update(key);
      expect(outcome.installed?.version).toBe("1.1.0");
      expect(outcome.installed?.via).toBe("package");
      expect(warnings.map((w) => w.code)).toEqual(["PATCH_FAILED"]);
      expect(await filesOf(client, key, V2)).toEqual(V2);
      expect(await client.failedVersions(key)).toEqual([]);
      expect(JSON.parse((await storage.get(`failed-patches/${key}`)) ?? "[]")).toEqual(remembered);
    }
  });

  it("a patch that hashes right but does not apply (a signed answer naming broken bytes) falls back too", async () => {
    // What only a holder of the service key could send: the answer is signed again with the test
    // service key, naming bytes whose frames are damaged. The SDK decodes, fails, and installs the package.
    const p = await settled("1.0.0", "1.1.0");
    const genuine = new Uint8Array(
      await (await fetchThrough(`${BASE}/v1/packages/${p.sha256}`, { method: "GET", headers: {} })).arrayBuffer(),
    );
    const broken = flip(genuine, genuine.length - 3);
    const brokenSha = await sha256Hex(broken);
    const tampering: FetchLike = async (url, init) => {
      if (url === `${BASE}/broken/${brokenSha}`) return new Response(broken);
      const res = await fetchThrough(url, init);
      if (!url.endsWith("/v1/check")) return res;
      const answer = JSON.parse(await res.text()) as { results: Json[] };
      (answer.results[0] as Json).patch = {
        url: `${BASE}/broken/${brokenSha}`,
        sha256: brokenSha,
        size: broken.length,
        baseSha256: v1.sha256,
        format: PATCH_FORMAT,
      };
      const bytes = new TextEncoder().encode(JSON.stringify(answer));
      return new Response(bytes, {
        headers: {
          "content-type": "application/json",
          "updraft-signature": signWith(TEST_SEEDS.current, bytes),
          "updraft-key-id": "test-key",
        },
      });
    };
    const storage = onV1.clone();
    const warnings: UpdraftError[] = [];
    const client = device(storage, { onWarning: (w) => warnings.push(w) }, tampering);
    const outcome = await client.update(key);
    expect(outcome.installed).toMatchObject({ version: "1.1.0", via: "package" });
    expect(warnings.map((w) => w.code)).toEqual(["PATCH_FAILED"]);
    expect(await filesOf(client, key, V2)).toEqual(V2);
    expect(JSON.parse((await storage.get(`failed-patches/${key}`)) ?? "[]")).toEqual([brokenSha]);
  });

  it("a base the device claims but does not have gets the full package", async () => {
    // The installed record says 1.0.0 with its sha256, but the stored files are not 1.0.0's.
    const storage = onV1.clone();
    const record = JSON.parse((await storage.get(`installed/${key}`)) as string) as { fileSet: string };
    const files = Object.entries(V1).map(([path, text]) => ({
      path,
      bytes: new TextEncoder().encode(`${text} (edited on the device)`),
    }));
    await storage.writeFileSet(record.fileSet, files);
    const warnings: UpdraftError[] = [];
    const client = device(storage, { onWarning: (w) => warnings.push(w) });
    const outcome = await client.update(key);
    expect(outcome.installed?.via).toBe("package");
    expect(warnings.map((w) => w.code)).toEqual(["PATCH_FAILED"]);
    expect(await filesOf(client, key, V2)).toEqual(V2);
  });
});

/**
 * Another mini program of the app, with `versions` uploaded (files of filesAt, named for it: no two
 * mini programs share package or patch bytes); returns its id, key and package sha256s.
 */
async function another(versions: string[]) {
  const created = await createMiniProgram(token);
  const out = { id: created.id, key: created.key, sha: {} as Record<string, string> };
  for (const [i, version] of versions.entries()) {
    const res = await call(`/v1/admin/mini-programs/${out.id}/versions?version=${version}`, {
      method: "POST",
      token,
      headers: { "content-type": "application/zip" },
      // A build id no other upload has: no two mini programs share package or patch bytes.
      body: makeZip({ ...filesAt(version, `${created.key}-${i}`), "build.txt": crypto.randomUUID() }),
    });
    out.sha[version] = (await expectJson<{ sha256: string }>(res, 201)).sha256;
  }
  return out;
}

async function releaseOf(id: string, version: string, envName = "prod", rollback = false) {
  const r = await createRelease(token, { miniProgramId: id, version, appId: appKey, env: envName, rollback });
  await goFull(token, r.id);
  return r;
}

async function patchesOf(id: string): Promise<PatchJson[]> {
  const res = await call(`/v1/admin/mini-programs/${id}/patches`, { token });
  return (await expectJson<{ items: PatchJson[] }>(res, 200)).items;
}

async function settledOf(id: string, base: string, target: string, until = (p: PatchJson) => p.status !== "pending") {
  return vi.waitFor(
    async () => {
      const p = (await patchesOf(id)).find((x) => x.baseVersion === base && x.targetVersion === target);
      if (p === undefined || !until(p)) throw new Error(`patch ${base} → ${target} is not settled`);
      return p;
    },
    { timeout: 15_000, interval: 100 },
  );
}

async function offeredTo(k: string, version: string, sha256: string, envName = "prod"): Promise<Json> {
  const res = await call("/v1/check", {
    method: "POST",
    json: {
      appId: appKey,
      env: envName,
      deviceId: "d2",
      patchFormats: [PATCH_FORMAT],
      miniPrograms: [{ id: k, version, sha256 }],
    },
  });
  return ((await expectJson<Json>(res, 200)).results as Json[])[0] as Json;
}

describe("patch jobs", () => {
  it("a job that keeps failing is retried, then dead-lettered as failed: devices get the full package only", async () => {
    const m = await another(["1.0.0", "2.0.0"]);
    await releaseOf(m.id, "1.0.0");
    // The base package is gone from storage: every attempt fails.
    const baseKey = `packages/${m.sha["1.0.0"]}`;
    const kept = await env.PACKAGES.get(baseKey);
    const keptBytes = new Uint8Array(await (kept as R2ObjectBody).arrayBuffer());
    await env.PACKAGES.delete(baseKey);
    await releaseOf(m.id, "2.0.0");
    const failed = await settledOf(m.id, "1.0.0", "2.0.0");
    expect(failed.status).toBe("failed");
    expect(failed.attempts).toBe(4); // max_retries 3: the first attempt and three retries
    expect(failed.error).toMatch(/^Gave up after 4 attempts: package [0-9a-f]{64} is not in the package store$/);
    expect(failed.sha256).toBeNull();
    const result = await offeredTo(m.key, "1.0.0", m.sha["1.0.0"] as string);
    expect(result).toMatchObject({ action: "update", version: "2.0.0" });
    expect(result.patch).toBeUndefined();
    const listed = await call(`/v1/admin/mini-programs/${m.id}/patches?status=failed`, { token });
    expect((await expectJson<{ items: PatchJson[] }>(listed, 200)).items.map((p) => p.id)).toEqual([failed.id]);

    // Retried by an admin once the cause is fixed: built and offered.
    await env.PACKAGES.put(baseKey, keptBytes);
    const again = await call(`/v1/admin/mini-programs/${m.id}/patches/${failed.id}/retry`, { method: "POST", token });
    expect(await expectJson<PatchJson>(again, 202)).toMatchObject({ status: "pending", attempts: 0, error: null });
    const ready = await settledOf(m.id, "1.0.0", "2.0.0", (p) => p.status === "ready");
    expect((await offeredTo(m.key, "1.0.0", m.sha["1.0.0"] as string)).patch).toMatchObject({ sha256: ready.sha256 });
    // Only a failed patch is built again.
    const twice = await call(`/v1/admin/mini-programs/${m.id}/patches/${failed.id}/retry`, { method: "POST", token });
    expect(twice.status).toBe(409);
  });

  it("two releases of one version going out at once build one patch, stored once", async () => {
    const m = await another(["1.0.0", "2.0.0"]);
    await Promise.all([releaseOf(m.id, "1.0.0", "prod"), releaseOf(m.id, "1.0.0", "test")]);
    // Other tests of this file have settled (each waits for its own patches): count patch objects now.
    const patchObjects = async () => {
      const stored = await env.PACKAGES.list({ prefix: "packages/", include: ["httpMetadata"], limit: 1000 });
      return stored.objects
        .filter((o) => o.httpMetadata?.contentType === "application/vnd.updraft.patch")
        .map((o) => o.key);
    };
    const before = await patchObjects();
    await Promise.all([releaseOf(m.id, "2.0.0", "prod"), releaseOf(m.id, "2.0.0", "test")]);
    const p = await settledOf(m.id, "1.0.0", "2.0.0");
    expect(p.status).toBe("ready");
    expect(await patchesOf(m.id)).toHaveLength(1);
    const after = await patchObjects();
    expect(after.filter((k) => !before.includes(k))).toEqual([`packages/${p.sha256}`]);
    for (const envName of ["prod", "test"]) {
      await vi.waitFor(
        async () => {
          const r = await offeredTo(m.key, "1.0.0", m.sha["1.0.0"] as string, envName);
          expect(r.patch).toMatchObject({ sha256: p.sha256 });
        },
        { timeout: 5_000, interval: 100 },
      );
    }
  });

  it("a rollback release gets patches too, and the SDK rolls back through one", async () => {
    const m = await another(["1.0.0", "2.0.0"]);
    await releaseOf(m.id, "1.0.0");
    await releaseOf(m.id, "2.0.0");
    await settledOf(m.id, "1.0.0", "2.0.0");
    const storage = memoryStorage();
    // A new device: 2.0.0 arrives as a full package.
    expect((await device(storage).update(m.key)).installed).toMatchObject({ version: "2.0.0", via: "package" });
    await releaseOf(m.id, "1.0.0", "prod", true);
    const back = await settledOf(m.id, "2.0.0", "1.0.0");
    expect(back.status).toBe("ready");
    const warnings: UpdraftError[] = [];
    const rolling = device(storage, { onWarning: (w) => warnings.push(w) });
    const outcome = await rolling.update(m.key);
    expect(outcome.action).toBe("rollback");
    expect(outcome.installed).toMatchObject({ version: "1.0.0", via: "patch" });
    expect(warnings).toEqual([]);
    const want = filesAt("1.0.0", `${m.key}-0`); // build.txt aside
    expect(await filesOf(rolling, m.key, want)).toEqual(want);
  });

  it("a package too large for one job is skipped: devices get the full package", async () => {
    const m = await another(["1.0.0"]);
    await releaseOf(m.id, "1.0.0");
    // 13 MiB unpacked (PATCH_MAX_INPUT_BYTES is 12 MiB by default), a few KB zipped.
    const big = makeZip({ "app.json": "{}", "big.txt": "x".repeat(13 * 1024 * 1024) });
    const res = await call(`/v1/admin/mini-programs/${m.id}/versions?version=2.0.0`, {
      method: "POST",
      token,
      headers: { "content-type": "application/zip" },
      body: big,
    });
    expect(res.status).toBe(201);
    await releaseOf(m.id, "2.0.0");
    const skipped = await settledOf(m.id, "1.0.0", "2.0.0");
    expect(skipped).toMatchObject({ status: "skipped", sha256: null, attempts: 1 });
    expect(skipped.error).toMatch(/more than 12582912 bytes/);
    expect((await offeredTo(m.key, "1.0.0", m.sha["1.0.0"] as string)).patch).toBeUndefined();
  });

  it("deleting a version takes its patches with it: rows, bytes and offers", async () => {
    const m = await another(["1.0.0", "2.0.0"]);
    await releaseOf(m.id, "1.0.0");
    await releaseOf(m.id, "2.0.0");
    const p = await settledOf(m.id, "1.0.0", "2.0.0");
    expect(await env.PACKAGES.head(`packages/${p.sha256}`)).not.toBeNull();
    // 1.0.0's release was archived by 2.0.0 going full: the version can be deleted.
    const deleted = await call(`/v1/admin/mini-programs/${m.id}/versions/1.0.0`, { method: "DELETE", token });
    expect(deleted.status).toBe(200);
    expect(await patchesOf(m.id)).toEqual([]);
    expect(await env.PACKAGES.head(`packages/${p.sha256}`)).toBeNull();
    expect((await offeredTo(m.key, "1.0.0", m.sha["1.0.0"] as string)).patch).toBeUndefined();
  });
});

/** The SDK's HTTP goes to the Worker's own fetch handler. */
const fetchThrough = (url: string, init: Parameters<FetchLike>[1]): Promise<Response> =>
  exports.default.fetch(
    new Request(url, { method: init.method, headers: init.headers, ...(init.body ? { body: init.body } : {}) }),
  );

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[at] = (copy[at] as number) ^ 0xff;
  return copy;
}
