import { beforeAll, describe, expect, it } from "vitest";
import type { SnapshotSource, SourceRelease } from "../../src/domain/compile-snapshot";
import { compileParts, type DeliveryChange, headLists } from "../../src/domain/delivery";
import { type CheckInput, decideAll } from "../../src/usecases/check-updates";
import type { DeliveryStore, Deps } from "../../src/usecases/ports";
import { checkInput } from "../support/decide-fixtures";
import { isolateDeps } from "../support/isolate";
import { uniqueKey } from "../support/workspace";

const N = 10_000;
const FRESHNESS_BOUND_MS = 5_000;
const key = (i: number) => `mp-${i}`;
const RULES = [
  { attribute: "brand", operator: "include", values: ["samsung", "apple", "xiaomi"] },
  { attribute: "osVersion", operator: "semver", values: [">=13"] },
  { attribute: "model", operator: "prefix", values: ["SM-", "iPhone"] },
];

/** The relational state of `n` mini programs: 1.0.0 and 1.1.0 each, 1.1.0 in full, 1.2.0 a canary. */
function generated(appKey: string, n: number, version: number, paused: Set<number> = new Set()): SnapshotSource {
  const source: SnapshotSource = {
    appKey,
    env: "prod",
    version,
    builtAt: 0,
    miniPrograms: [],
    versions: [],
    releases: [],
    lists: [],
  };
  for (let i = 0; i < n; i++) {
    source.miniPrograms.push({
      id: `id_${i}`,
      key: key(i),
      type: "dsl",
      origin: "workspace",
      minUsableVersion: null,
      config: {},
    });
    for (const v of ["1.0.0", "1.1.0", "1.2.0"]) {
      source.versions.push({
        id: `v_${i}_${v}`,
        miniProgramId: `id_${i}`,
        version: v,
        sha256: "a".repeat(64),
        size: 1000,
        compat: "*",
        publisherSignature: null,
        deleted: false,
      });
    }
    const release = (v: string, seq: number, status: SourceRelease["status"], targeting: SourceRelease["targeting"]) =>
      source.releases.push({
        id: `r_${i}_${v}`,
        versionId: `v_${i}_${v}`,
        seq: 2 * i + seq,
        status,
        wentFull: status === "full",
        rollback: false,
        updateMode: "default",
        config: { switches: { tier: "gold" } },
        targeting,
      });
    release("1.1.0", 1, paused.has(i) ? "paused" : "full", null);
    release("1.2.0", 2, "canary", { rules: RULES, percentage: { basisPoints: 0 } });
  }
  return source;
}

/** The store, counting its reads and the bytes they transferred. */
function counting(store: DeliveryStore) {
  const reads = { head: 0, bucket: 0, part: 0, bytes: 0 };
  const counted: DeliveryStore = {
    ...store,
    head: async (...a) => {
      const r = await store.head(...a);
      reads.head += 1;
      reads.bytes += r.bytes;
      return r;
    },
    bucket: async (...a) => {
      const r = await store.bucket(...a);
      reads.bucket += 1;
      reads.bytes += r.bytes;
      return r;
    },
    part: async (...a) => {
      const r = await store.part(...a);
      reads.part += 1;
      reads.bytes += r?.bytes ?? 0;
      return r;
    },
  };
  return { store: counted, reads };
}

async function isolate(clock: { now(): number }) {
  let reads = { head: 0, bucket: 0, part: 0, bytes: 0 };
  const { deps, delivery } = await isolateDeps(clock, {
    wrap: (raw) => {
      const c = counting(raw);
      reads = c.reads;
      return c.store;
    },
  });
  return { deps, delivery, reads };
}

const check = (appKey: string, ids: number[]): CheckInput =>
  checkInput({
    appId: appKey,
    deviceId: "dev-1",
    miniPrograms: ids.map((i) => ({ id: key(i), version: "1.0.0", sha256: null, failed: [] })),
  });

const offered = async (deps: Deps, input: CheckInput) =>
  (await decideAll(deps, input, { cf: null, userAgent: null }, "admit")).decisions.map((d) =>
    d.action === "update" ? d.release.version : "none",
  );

describe("a target with 10,000 mini programs", () => {
  const appKey = uniqueKey("scale");
  let now = Date.now();
  const clock = { now: () => now };
  let writer: Awaited<ReturnType<typeof isolate>>;

  beforeAll(async () => {
    writer = await isolate(clock);
    const source = generated(appKey, N, 1);
    const parts = compileParts(source);
    const change: DeliveryChange = {
      builtAt: 0,
      parts: parts.map(({ part, bytes, lists }) => ({ key: part.key, version: part.version, bytes, lists })),
      removed: [],
      lists: headLists(source, []),
    };
    const stats = await writer.delivery.publish(appKey, "prod", parts, change);
    expect(stats.parts).toBe(N);
  }, 120_000);

  it("serves checks, reading only the asked mini programs' parts", async () => {
    const reader = await isolate(clock);
    const asked = Array.from({ length: 20 }, (_, k) => 137 * k + 11);
    expect(await offered(reader.deps, check(appKey, asked))).toEqual(asked.map(() => "1.1.0"));
    expect(reader.reads.head).toBe(1);
    expect(reader.reads.part).toBe(20);
    // The head is a few KB whatever the number of mini programs; each bucket index about 40 entries.
    expect(reader.reads.bytes).toBeLessThan(64 * 1024);
    // A name the target does not have is "none", from its bucket index alone.
    expect(await offered(reader.deps, check(appKey, [N + 5]))).toEqual(["none"]);
    expect(reader.reads.part).toBe(20);
  });

  it("a change to one of them costs one part written, reaches checks within the bound, and is all they read again", async () => {
    const reader = await isolate(clock);
    const asked = [4242, 17, 9999, 5000];
    expect(await offered(reader.deps, check(appKey, asked))).toEqual(["1.1.0", "1.1.0", "1.1.0", "1.1.0"]);
    now += 10_000;
    expect(await offered(reader.deps, check(appKey, asked))).toEqual(["1.1.0", "1.1.0", "1.1.0", "1.1.0"]);
    const before = { ...reader.reads };

    // Pause mini program 4242's full release: compiled and published alone, at the next version.
    const changed = generated(appKey, N, 2, new Set([4242]));
    changed.miniPrograms = changed.miniPrograms.filter((mp) => mp.key === key(4242));
    const parts = compileParts(changed);
    expect(parts).toHaveLength(1);
    const stats = await writer.delivery.publish(appKey, "prod", parts, {
      builtAt: 1,
      parts: parts.map(({ part, bytes, lists }) => ({ key: part.key, version: part.version, bytes, lists })),
      removed: [],
      lists: {},
    });
    expect(stats.bytesWritten).toBeLessThanOrEqual(64 * 1024);

    const start = now;
    let answer = await offered(reader.deps, check(appKey, asked));
    while (answer[0] !== "none" && now - start <= 2 * FRESHNESS_BOUND_MS) {
      now += 100;
      answer = await offered(reader.deps, check(appKey, asked));
    }
    expect(answer).toEqual(["none", "1.1.0", "1.1.0", "1.1.0"]);
    expect(now - start).toBeLessThanOrEqual(FRESHNESS_BOUND_MS);
    // One new head, the changed bucket's index and the changed part: nothing else was read again.
    expect(reader.reads.head - before.head).toBeGreaterThanOrEqual(1);
    expect(reader.reads.bucket - before.bucket).toBe(1);
    expect(reader.reads.part - before.part).toBe(1);
    expect(reader.reads.bytes - before.bytes).toBeLessThan(64 * 1024);
  });
});
