// The check's allowlist shard reads and time-window calls have time limits (docs/architecture.md, "Time limits"): a
// store that never answers is simulated by stand-ins whose calls never settle (a hang cannot be
// produced with the real local bindings), on fake timers: no test waits for real time.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ADMISSION_TIME_LIMITS, durableObjectAdmissionGate } from "../../src/edge/admissions";
import { DeadlineExceeded } from "../../src/edge/deadline";
import { listContentStore, SHARD_TIME_LIMIT_MS } from "../../src/edge/list-content";
import { MemoryBudget } from "../../src/edge/memory-budget";

const never = () => new Promise<never>(() => {});

/** Resolves to how `promise` settled, advancing fake time by `ms` first (minus one ms, then one more). */
async function settlesAt(promise: Promise<unknown>, ms: number) {
  let outcome: unknown = "pending";
  promise.then(
    () => {
      outcome = "resolved";
    },
    (error) => {
      outcome = error;
    },
  );
  await vi.advanceTimersByTimeAsync(ms - 1);
  const before = outcome;
  await vi.advanceTimersByTimeAsync(1);
  return { before, after: outcome };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("time limits of the check's storage calls", () => {
  it("an allowlist shard read", async () => {
    const kv = { get: never } as unknown as KVNamespace;
    const store = listContentStore({} as R2Bucket, kv, new MemoryBudget(1024));
    const { before, after } = await settlesAt(store.getShard("lc_1", 0), SHARD_TIME_LIMIT_MS);
    expect(before).toBe("pending");
    expect(after).toBeInstanceOf(DeadlineExceeded);
  });

  it("a time-window admission, lookup and member set", async () => {
    const stub = { admit: never, lookup: never, members: never };
    const ns = { idFromName: () => ({}), get: () => stub } as unknown as Parameters<
      typeof durableObjectAdmissionGate
    >[0];
    const gate = durableObjectAdmissionGate(ns);
    const window = { startsAt: 0, endsAt: 1, cap: 1 };
    for (const [call, ms] of [
      [() => gate.admit("rel_1", "d", window, 0), ADMISSION_TIME_LIMITS.admit],
      [() => gate.lookup("rel_1", "d"), ADMISSION_TIME_LIMITS.admit],
      [() => gate.members("rel_1"), ADMISSION_TIME_LIMITS.members],
    ] as const) {
      const { before, after } = await settlesAt(call(), ms);
      expect(before).toBe("pending");
      expect(after).toBeInstanceOf(DeadlineExceeded);
    }
  });
  // The delivery store's limits: delivery-cache.test.ts ("deliveryStore: … fails at its time limit").
});
