import { describe, expect, it } from "vitest";
import { call, makeWorkspace, uniqueKey } from "../support/workspace";
import { makeZip, sha256Hex } from "../support/zip";

describe("the README tour", () => {
  it("check → upload → release → full → check again → download and verify", async () => {
    const { token } = await makeWorkspace();
    const appKey = uniqueKey("wallet");

    expect(
      (
        await call("/v1/admin/apps", {
          method: "POST",
          token,
          json: { key: appKey, name: "Wallet", platforms: ["ios", "android"] },
        })
      ).status,
    ).toBe(201);
    expect(
      (await call("/v1/admin/mini-programs", { method: "POST", token, json: { key: "pay", names: { en: "Pay" } } }))
        .status,
    ).toBe(201);

    const device = {
      appId: appKey,
      env: "prod",
      deviceId: "dev-1",
      appVersion: "8.1.0",
      miniPrograms: [{ id: "pay", version: null }],
    };
    const before = await call("/v1/check", { method: "POST", json: device });
    expect(before.status).toBe(200);
    expect((await before.json<{ results: unknown[] }>()).results).toEqual([{ id: "pay", action: "none" }]);

    const zip = makeZip({ "index.js": "console.log('v1.1.0')", "app.json": "{}" });
    const upload = await call("/v1/admin/mini-programs/pay/versions?version=1.1.0&compat=%3E%3D8.0.0", {
      method: "POST",
      token,
      headers: { "content-type": "application/zip" },
      body: zip,
    });
    expect(upload.status).toBe(201);
    const version = await upload.json<{ sha256: string; size: number; fileCount: number }>();
    expect(version.sha256).toBe(await sha256Hex(zip));
    expect(version.fileCount).toBe(2);

    const created = await call("/v1/admin/releases", {
      method: "POST",
      token,
      json: { miniProgramId: "pay", version: "1.1.0", appId: appKey, env: "prod" },
    });
    expect(created.status).toBe(201);
    const release = await created.json<{ id: string; status: string; seq: number }>();
    expect(release.status).toBe("created");
    for (const to of ["in_review", "approved", "full"]) {
      const moved = await call(`/v1/admin/releases/${release.id}/transitions`, { method: "POST", token, json: { to } });
      expect(moved.status).toBe(200);
      expect((await moved.json<{ status: string }>()).status).toBe(to);
    }

    const after = await call("/v1/check", { method: "POST", json: { ...device, nonce: "n-1" } });
    expect(after.status).toBe(200);
    expect(after.headers.get("cache-control")).toBe("private, no-store");
    expect(after.headers.get("updraft-signature")).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const answer = await after.json<{
      nonce: string;
      results: {
        action: string;
        version: string;
        releaseId: string;
        package: { url: string; sha256: string; size: number };
      }[];
    }>();
    expect(answer.nonce).toBe("n-1");
    const [result] = answer.results;
    expect(result).toMatchObject({ action: "update", version: "1.1.0", releaseId: release.id });
    expect(result?.package.sha256).toBe(version.sha256);

    const download = await call(new URL(result?.package.url ?? "").pathname);
    expect(download.status).toBe(200);
    expect(download.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const bytes = await download.arrayBuffer();
    expect(bytes.byteLength).toBe(result?.package.size);
    expect(await sha256Hex(bytes)).toBe(result?.package.sha256);
  });
});
