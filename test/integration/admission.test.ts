import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { AdmissionCounter } from "../../src/edge/admission-counter";
import { cachedAdmissionGate, durableObjectAdmissionGate } from "../../src/edge/admissions";
import { uniqueKey } from "../support/workspace";

const HOUR = 60 * 60 * 1000;
const START = Date.UTC(2030, 0, 1);
const window = (cap: number) => ({ startsAt: START, endsAt: START + HOUR, cap });
const counter = (releaseId: string) => env.ADMISSIONS.get(env.ADMISSIONS.idFromName(releaseId));

describe("AdmissionCounter Durable Object", () => {
  it("admits exactly the cap under 500 concurrent admits of distinct devices", async () => {
    const releaseId = uniqueKey("rel");
    const gate = durableObjectAdmissionGate(env.ADMISSIONS);
    const answers = await Promise.all(
      Array.from({ length: 500 }, (_, i) => gate.admit(releaseId, `dev-${i}`, window(100), START + i)),
    );
    const admitted = answers.filter((a) => a.admitted).length;
    expect(admitted).toBe(100);
    expect(answers.filter((a) => !a.admitted).every((a) => a.closed)).toBe(true);
    const members = await gate.members(releaseId);
    expect(members).toHaveLength(100);
    expect(new Set(members).size).toBe(100);
    const admittedIds = answers.flatMap((a, i) => (a.admitted ? [`dev-${i}`] : []));
    expect([...members].sort()).toEqual(admittedIds.sort());
  });

  it("keeps a device admitted when it asks again, without counting it twice", async () => {
    const stub = counter(uniqueKey("rel"));
    expect(await stub.admit("dev-a", window(2), START)).toEqual({ admitted: true, closed: false });
    expect(await stub.admit("dev-a", window(2), START + 1)).toEqual({ admitted: true, closed: false });
    expect(await stub.admit("dev-b", window(2), START + 2)).toEqual({ admitted: true, closed: true });
    expect(await stub.admit("dev-a", window(2), START + 3)).toEqual({ admitted: true, closed: true });
    expect(await stub.admit("dev-c", window(2), START + 4)).toEqual({ admitted: false, closed: true });
    expect(await stub.members()).toHaveLength(2);
  });

  it("admits nobody before startsAt (half-open window)", async () => {
    const stub = counter(uniqueKey("rel"));
    expect(await stub.admit("dev-a", window(10), START - 1)).toEqual({ admitted: false, closed: false });
    expect(await stub.lookup("dev-a", START - 1)).toEqual({ admitted: false, closed: false });
    expect(await stub.admit("dev-a", window(10), START)).toEqual({ admitted: true, closed: false });
  });

  it("after endsAt admits nobody new, keeps the admitted, and stays closed for earlier clocks", async () => {
    const stub = counter(uniqueKey("rel"));
    const w = window(10);
    expect((await stub.admit("dev-in", w, w.endsAt - 1)).admitted).toBe(true);
    expect(await stub.admit("dev-late", w, w.endsAt)).toEqual({ admitted: false, closed: true });
    expect(await stub.admit("dev-in", w, w.endsAt + HOUR)).toEqual({ admitted: true, closed: true });
    expect(await stub.lookup("dev-in")).toEqual({ admitted: true, closed: true });
    // Another isolate whose clock lags behind cannot reopen a set already reported closed.
    expect(await stub.admit("dev-slow", w, w.endsAt - 1)).toEqual({ admitted: false, closed: true });
    expect(await stub.members()).toEqual(["dev-in"]);
  });

  it("fixes the window on first use and ignores a different one later", async () => {
    const stub = counter(uniqueKey("rel"));
    expect((await stub.admit("dev-a", window(1), START)).closed).toBe(true);
    expect(await stub.admit("dev-b", window(50), START + 1)).toEqual({ admitted: false, closed: true });
  });

  it("lookup never admits and reports closed only once it is", async () => {
    const stub = counter(uniqueKey("rel"));
    expect(await stub.lookup("dev-a")).toEqual({ admitted: false, closed: false });
    expect(await stub.admit("dev-a", window(3), START)).toEqual({ admitted: true, closed: false });
    expect(await stub.lookup("dev-b", START + 1)).toEqual({ admitted: false, closed: false });
    expect(await stub.lookup("dev-a")).toEqual({ admitted: true, closed: false });
    expect(await stub.members()).toEqual(["dev-a"]);
  });

  it("reloads the window, count and seal from storage after a restart", async () => {
    const stub = counter(uniqueKey("rel"));
    const w = window(3);
    await stub.admit("dev-a", w, START);
    await stub.admit("dev-b", w, START + 1);
    await runInDurableObject(stub, (_instance: AdmissionCounter, state) => {
      const fresh = new AdmissionCounter(state, env);
      expect(fresh.admit("dev-c", window(99), START + 2)).toEqual({ admitted: true, closed: true });
      expect(fresh.admit("dev-d", w, START + 3)).toEqual({ admitted: false, closed: true });
    });
    const sealed = counter(uniqueKey("rel"));
    await sealed.admit("dev-a", w, w.endsAt);
    await runInDurableObject(sealed, (_instance: AdmissionCounter, state) => {
      const fresh = new AdmissionCounter(state, env);
      expect(fresh.admit("dev-b", w, START)).toEqual({ admitted: false, closed: true });
    });
  });

  it("fails closed on a malformed window and does not keep it", async () => {
    const stub = counter(uniqueKey("rel"));
    const bad = { startsAt: START, endsAt: START, cap: 1 };
    expect(await stub.admit("dev-a", bad, START)).toEqual({ admitted: false, closed: false });
    expect(await stub.admit("dev-a", window(1), Number.NaN)).toEqual({ admitted: false, closed: false });
    expect(await stub.admit("dev-a", window(1), START)).toEqual({ admitted: true, closed: true });
  });

  it("answers through the isolate cache from the final set once closed", async () => {
    const releaseId = uniqueKey("rel");
    const gate = cachedAdmissionGate(durableObjectAdmissionGate(env.ADMISSIONS));
    const w = window(2);
    expect(await gate.admit(releaseId, "dev-a", w, START)).toEqual({ admitted: true, closed: false });
    expect(await gate.admit(releaseId, "dev-b", w, START + 1)).toEqual({ admitted: true, closed: true });
    expect(await gate.admit(releaseId, "dev-c", w, START + 2)).toEqual({ admitted: false, closed: true });
    expect(await gate.lookup(releaseId, "dev-a")).toEqual({ admitted: true, closed: true });
    expect(await gate.lookup(releaseId, "dev-c")).toEqual({ admitted: false, closed: true });
  });
});
