import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/domain/decide";
import { choosePatch } from "../../src/domain/patch-offer";
import type { SnapshotPatch, SnapshotRelease } from "../../src/domain/snapshot";
import { type CheckResult, resultJson } from "../../src/usecases/check-updates";
import { snapshotRelease } from "../support/decide-fixtures";

const FORMAT = "updraft-zstd-v1";
const BASE = "b".repeat(64);
const patch = (over: Partial<SnapshotPatch> = {}): SnapshotPatch => ({
  base: BASE,
  baseVersion: "1.0.0",
  format: FORMAT,
  sha256: "c".repeat(64),
  size: 100,
  ...over,
});
const release = (patches?: SnapshotPatch[]): SnapshotRelease => ({
  ...snapshotRelease("1.1.0", "full", null),
  package: { sha256: "a".repeat(64), size: 1000, manifestSha256: "d".repeat(64) },
  ...(patches ? { patches } : {}),
});
const on = (version: string | null, sha256: string | null) => ({ version, sha256 });

describe("choosePatch", () => {
  it("offers a patch only for the exact base, of the version the device names, in a declared format", () => {
    const r = release([patch()]);
    expect(choosePatch(r, on("1.0.0", BASE), [FORMAT], 0.5)).toEqual({ choice: "PATCH", patch: patch() });
    expect(choosePatch(r, on("1.0.0", BASE), [], 0.5).choice).toBe("NO_PATCH_FORMATS");
    expect(choosePatch(r, on(null, null), [FORMAT], 0.5).choice).toBe("NO_INSTALLED_PACKAGE");
    expect(choosePatch(r, on("1.0.0", null), [FORMAT], 0.5).choice).toBe("NO_INSTALLED_PACKAGE");
    expect(choosePatch(r, on("1.0.0", "e".repeat(64)), [FORMAT], 0.5).choice).toBe("NO_PATCH_FOR_BASE");
    expect(choosePatch(release(), on("1.0.0", BASE), [FORMAT], 0.5).choice).toBe("NO_PATCH_FOR_BASE");
    // The right bytes claimed under another version: not trusted.
    expect(choosePatch(r, on("1.0.1", BASE), [FORMAT], 0.5).choice).toBe("BASE_VERSION_MISMATCH");
    expect(choosePatch(r, on("1.0.0", BASE), ["other-v1"], 0.5).choice).toBe("FORMAT_NOT_DECLARED");
  });

  it("offers only a patch smaller than the configured fraction of the package", () => {
    expect(choosePatch(release([patch({ size: 499 })]), on("1.0.0", BASE), [FORMAT], 0.5).choice).toBe("PATCH");
    expect(choosePatch(release([patch({ size: 500 })]), on("1.0.0", BASE), [FORMAT], 0.5)).toEqual({
      choice: "PATCH_TOO_LARGE",
      patch: patch({ size: 500 }),
    });
    expect(choosePatch(release([patch({ size: 500 })]), on("1.0.0", BASE), [FORMAT], 0.8).choice).toBe("PATCH");
  });

  it("takes the device's first declared format that has a patch under the bound", () => {
    const a = patch({ format: "other-v1", sha256: "1".repeat(64) });
    const b = patch();
    expect(choosePatch(release([b, a]), on("1.0.0", BASE), ["other-v1", FORMAT], 0.5).patch).toBe(a);
    expect(choosePatch(release([b, a]), on("1.0.0", BASE), [FORMAT, "other-v1"], 0.5).patch).toBe(b);
  });
});

describe("resultJson with a patch", () => {
  it("is byte for byte JSON.stringify of the result with `patch` after `package`", () => {
    const r = release([patch()]);
    const decision: Decision = {
      action: "update",
      release: r,
      updateMode: "async",
      reason: "UPDATE_AVAILABLE",
      trace: [],
    };
    const base = "https://updates.example/v1/packages";
    const expected: CheckResult = {
      id: "mp",
      action: "update",
      version: r.version,
      releaseId: r.releaseId,
      sequence: r.seq,
      updateMode: "async",
      package: {
        url: `${base}/${r.package.sha256}`,
        sha256: r.package.sha256,
        size: r.package.size,
        manifestUrl: `${base}/${"d".repeat(64)}`,
        manifestSha256: "d".repeat(64),
      },
      patch: { url: `${base}/${"c".repeat(64)}`, sha256: "c".repeat(64), size: 100, baseSha256: BASE, format: FORMAT },
      signature: r.publisherSignature,
      publisherKeyId: r.publisherKeyId ?? null,
      config: r.config,
    };
    expect(resultJson("mp", decision, base, patch())).toBe(JSON.stringify(expected));
    const { patch: _, ...withoutPatch } = expected;
    expect(resultJson("mp", decision, base)).toBe(JSON.stringify(withoutPatch));
  });
});
