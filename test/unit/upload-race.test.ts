// uploadVersion's cleanup when two uploads of the same bytes interleave (found by review): upload A
// stores the bytes and loses its version number; upload B of the same bytes found them stored and
// relies on them. Whatever the order, bytes a version refers to must stay stored. The ports are
// in-memory stand-ins whose hooks let each test interleave B's commit with A's cleanup.
import { describe, expect, it } from "vitest";
import type { Context, Deps, VersionRecord } from "../../src/usecases/ports";
import { uploadVersion } from "../../src/usecases/upload-version";

const SHA = "f".repeat(64);

function world() {
  const objects = new Set<string>();
  const state = { removed: 0 };
  const versions: VersionRecord[] = [];
  /** `winner`: another upload of the same version number commits first (other bytes). */
  const hooks = { afterRemove: () => {}, winner: null as VersionRecord | null };
  const deps = {
    ids: { id: (p: string) => `${p}_${versions.length}_${Math.random()}` },
    clock: { now: () => 0 },
    hasher: { sha256Hex: async () => SHA },
    reader: { manifest: async () => [{ path: "a.js", size: 1, sha256: SHA }] },
    limits: {},
    packages: {
      putIfAbsent: async (sha: string) => {
        if (objects.has(sha)) return false;
        objects.add(sha);
        return true;
      },
      putManifest: async () => {},
      // The manifest text (content-addressed by its own hash) is not the package bytes under race.
      putText: async () => {},
      remove: async (sha: string) => {
        objects.delete(sha);
        state.removed += 1;
        hooks.afterRemove();
      },
      head: async (sha: string) => (objects.has(sha) ? { size: 1, contentType: "application/zip" } : null),
    },
    store: {
      getMiniProgram: async (_ws: string, id: string) => ({
        id,
        defaultUpdateMode: "default",
        type: "dsl",
        origin: "workspace",
      }),
      findVersion: async (mp: string, v: string) =>
        versions.find((r) => r.miniProgramId === mp && r.version === v) ?? null,
      createVersion: async (record: VersionRecord) => {
        if (hooks.winner !== null) {
          versions.push(hooks.winner);
          return "conflict";
        }
        versions.push(record);
        return "ok";
      },
      packageInUse: async (sha: string) => versions.some((r) => r.sha256 === sha),
      environmentIdsReleasing: async () => [],
      // Unsigned uploads are accepted: the workspace does not require signatures.
      getWorkspace: async () => ({ requireSignedUploads: false }),
    },
  } as unknown as Deps;
  return {
    deps,
    objects,
    versions,
    hooks,
    get removed() {
      return state.removed;
    },
  };
}

const ctx: Context = {
  actor: {
    memberId: "m",
    workspaceId: "w",
    tokenId: "t",
    kind: "person",
    role: "admin",
    miniProgramRoles: {},
    scope: { access: "full", miniProgramIds: null },
    tokenExpiresAt: null,
  },
  requestId: "r",
};
const input = (miniProgramId: string, version: string) => ({
  miniProgramId,
  version,
  compat: "*",
  updateMode: null,
  releaseNote: "",
  publisherSignature: null,
  publisherKeyId: null,
  readBody: async () => new Uint8Array([1]),
});

describe("an upload that stored bytes and lost its version number", () => {
  it("removes them when no version refers to them", async () => {
    const w = world();
    w.hooks.winner = { miniProgramId: "mp", version: "1.0.0", sha256: "e".repeat(64) } as VersionRecord;
    await expect(uploadVersion(w.deps, ctx, input("mp", "1.0.0"))).rejects.toMatchObject({ code: "VERSION_CONFLICT" });
    expect(w.removed).toBe(1);
    expect(w.objects.has(SHA)).toBe(false);
  });

  it("stores them again when another upload's version came to refer to them meanwhile", async () => {
    const w = world();
    w.hooks.winner = { miniProgramId: "mp", version: "1.0.0", sha256: "e".repeat(64) } as VersionRecord;
    // Upload B (same bytes, another mini program) commits right after A removed the bytes.
    w.hooks.afterRemove = () => {
      w.versions.push({ miniProgramId: "other", version: "2.0.0", sha256: SHA } as VersionRecord);
    };
    await expect(uploadVersion(w.deps, ctx, input("mp", "1.0.0"))).rejects.toMatchObject({ code: "VERSION_CONFLICT" });
    expect(w.removed).toBe(1);
    expect(w.objects.has(SHA)).toBe(true);
  });
});

describe("an upload that found the bytes stored by another", () => {
  it("stores them again if they were removed before its commit", async () => {
    const w = world();
    w.objects.add(SHA); // stored by A, which is about to remove them
    const originalCreate = w.deps.store.createVersion;
    w.deps.store.createVersion = async (record, audit) => {
      w.objects.delete(SHA); // A's cleanup ran between B's put and B's commit
      return originalCreate(record, audit);
    };
    const result = await uploadVersion(w.deps, ctx, input("other", "2.0.0"));
    expect(result.created).toBe(true);
    expect(w.objects.has(SHA)).toBe(true);
  });
});
