import { env } from "cloudflare:workers";
import { strToU8, zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import {
  count,
  createMiniProgram,
  expectJson,
  expectProblem,
  type MiniProgramJson,
  uploadRequest,
  type VersionJson,
} from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";
import { makeZip, sha256Hex, zipWithHiddenEntry } from "../support/zip";

let token: string;
let workspaceId: string;
let mp: MiniProgramJson;

beforeAll(async () => {
  ({ token, workspaceId } = await makeWorkspace());
  mp = await createMiniProgram(token);
});

const versionRows = (version: string) =>
  count("select count(*) as n from versions where mini_program_id = ? and version = ?", mp.id, version);
const uploadAudits = () =>
  count("select count(*) as n from audit_logs where workspace_id = ? and action = 'version.upload'", workspaceId);

describe("version upload", () => {
  it("an identical re-upload is an idempotent replay: 200, same id, one row, one audit entry", async () => {
    const zip = makeZip({ "index.js": "replay", "app.json": "{}" });
    const first = await expectJson<VersionJson>(await uploadRequest(token, mp.key, "1.0.0", zip), 201);
    const auditsAfterFirst = await uploadAudits();
    const again = await expectJson<VersionJson>(await uploadRequest(token, mp.key, "1.0.0", zip), 200);
    expect(again).toEqual(first);
    const third = await expectJson<VersionJson>(await uploadRequest(token, mp.key, "v1.0.0", zip), 200);
    expect(third.id).toBe(first.id);
    expect(await versionRows("1.0.0")).toBe(1);
    expect(await uploadAudits()).toBe(auditsAfterFirst);
    expect(
      await count("select count(*) as n from audit_logs where action = 'version.upload' and resource_id = ?", first.id),
    ).toBe(1);
  });

  it("different bytes under an existing version → 409 VERSION_CONFLICT, nothing changes", async () => {
    const zip = makeZip({ "index.js": "original" });
    const original = await expectJson<VersionJson>(await uploadRequest(token, mp.key, "2.0.0", zip), 201);
    const audits = await uploadAudits();
    const other = makeZip({ "index.js": "tampered" });
    await expectProblem(await uploadRequest(token, mp.key, "2.0.0", other), 409, "VERSION_CONFLICT");
    expect(await versionRows("2.0.0")).toBe(1);
    expect(await uploadAudits()).toBe(audits);
    const stored = await expectJson<VersionJson>(
      await call(`/v1/admin/mini-programs/${mp.key}/versions/2.0.0`, { token }),
      200,
    );
    expect(stored.sha256).toBe(original.sha256);
    expect(await env.PACKAGES.head(`packages/${await sha256Hex(other)}`)).toBeNull();
  });

  it("the manifest lists every file with its size and sha256, directories excluded", async () => {
    const files: Record<string, Uint8Array> = {
      "index.js": strToU8("console.log('hello')"),
      "app.json": strToU8('{"pages":["pages/home"]}'),
      "pages/home/index.js": strToU8("Page({})"),
      "pages/home/index.css": strToU8(".a{color:red}"),
      "assets/logo.bin": crypto.getRandomValues(new Uint8Array(3000)),
      "assets/empty.txt": new Uint8Array(0),
      "i18n/中文.json": strToU8('{"hello":"你好"}'),
    };
    const entries: Record<string, [Uint8Array, { mtime: Date }]> = {
      "pages/": [new Uint8Array(0), { mtime: new Date(2020, 0, 1) }],
      "pages/home/": [new Uint8Array(0), { mtime: new Date(2020, 0, 1) }],
      "assets/": [new Uint8Array(0), { mtime: new Date(2020, 0, 1) }],
    };
    for (const [path, data] of Object.entries(files)) entries[path] = [data, { mtime: new Date(2020, 0, 1) }];
    const zip = zipSync(entries, { level: 6 });

    const uploaded = await expectJson<VersionJson>(await uploadRequest(token, mp.key, "3.0.0", zip), 201);
    expect(uploaded.sha256).toBe(await sha256Hex(zip));
    expect(uploaded.size).toBe(zip.byteLength);
    expect(uploaded.fileCount).toBe(Object.keys(files).length);

    const expected = await Promise.all(
      Object.entries(files).map(async ([path, data]) => ({
        path,
        size: data.byteLength,
        sha256: await sha256Hex(data),
      })),
    );
    const got = await expectJson<VersionJson & { files: { path: string; size: number; sha256: string }[] }>(
      await call(`/v1/admin/mini-programs/${mp.key}/versions/3.0.0`, { token }),
      200,
    );
    expect(got.id).toBe(uploaded.id);
    expect(got.files).toHaveLength(expected.length);
    expect([...got.files].sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual(
      expected.sort((a, b) => (a.path < b.path ? -1 : 1)),
    );
    expect(got.files.some((file) => file.path.endsWith("/"))).toBe(false);
  });

  it("bytes are content-addressed in R2, and one package uploaded twice is stored once", async () => {
    const zip = makeZip({ "index.js": "shared bytes" });
    const sha = await sha256Hex(zip);
    const a = await expectJson<VersionJson>(await uploadRequest(token, mp.key, "4.0.0", zip), 201);
    const b = await expectJson<VersionJson>(await uploadRequest(token, mp.key, "4.0.1", zip), 201);
    expect(a.sha256).toBe(sha);
    expect(b.sha256).toBe(sha);
    expect(b.id).not.toBe(a.id);
    const object = await env.PACKAGES.get(`packages/${sha}`);
    expect(object).not.toBeNull();
    expect(object?.size).toBe(zip.byteLength);
    expect(new Uint8Array((await object?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(zip);
    const listed = await env.PACKAGES.list({ prefix: `packages/${sha}` });
    expect(listed.objects.map((o) => o.key)).toEqual([`packages/${sha}`]);
    const download = await call(`/v1/packages/${sha}`);
    expect(download.status).toBe(200);
    expect(await sha256Hex(await download.arrayBuffer())).toBe(sha);
  });

  it("concurrent identical uploads store one version: one 201, one 200 replay", async () => {
    const zip = makeZip({ "index.js": "raced" });
    const responses = await Promise.all([1, 2, 3].map(() => uploadRequest(token, mp.key, "5.0.0", zip)));
    const statuses = responses.map((r) => r.status).sort();
    const bodies = await Promise.all(responses.map((r) => r.json<VersionJson>()));
    expect(statuses).toEqual([200, 200, 201]);
    expect(new Set(bodies.map((v) => v.id)).size).toBe(1);
    expect(await versionRows("5.0.0")).toBe(1);
    expect(
      await count(
        "select count(*) as n from audit_logs where action = 'version.upload' and resource_id = ?",
        bodies[0]?.id,
      ),
    ).toBe(1);
  });

  it("an archive whose central directory hides a local entry → 422 INVALID_PACKAGE, nothing stored", async () => {
    // Found by an attacker: the central directory lists only index.js, but a local entry evil.js
    // precedes it; an extractor that walks local headers (ZipInputStream) unpacks both.
    const zip = zipWithHiddenEntry();
    const sha = await sha256Hex(zip);
    const audits = await uploadAudits();
    const { body, text } = await expectProblem(
      await uploadRequest(token, mp.key, "6.0.0", zip),
      422,
      "INVALID_PACKAGE",
    );
    expect(body.detail).toContain("no entry accounts for");
    expect(text).not.toContain("evil");
    expect(await versionRows("6.0.0")).toBe(0);
    expect(await uploadAudits()).toBe(audits);
    expect(await env.PACKAGES.head(`packages/${sha}`)).toBeNull();
    expect(await env.PACKAGES.head(`manifests/${sha}.json`)).toBeNull();
    expect((await call(`/v1/admin/mini-programs/${mp.key}/versions/6.0.0`, { token })).status).toBe(404);
  });

  it("lists a mini program's versions", async () => {
    const own = await createMiniProgram(token);
    for (const version of ["1.0.0", "1.2.0"]) {
      await expectJson(await uploadRequest(token, own.key, version, makeZip({ "index.js": version })), 201);
    }
    const list = await expectJson<{ items: VersionJson[] }>(
      await call(`/v1/admin/mini-programs/${own.key}/versions`, { token }),
      200,
    );
    expect(list.items.map((v) => v.version).sort()).toEqual(["1.0.0", "1.2.0"]);
    expect(list.items.every((v) => v.miniProgramId === own.id)).toBe(true);
  });
});
