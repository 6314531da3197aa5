import { describe, expect, it } from "vitest";
import { type AdmissionAuthority, cachedAdmissionGate } from "../../src/edge/admissions";

const WINDOW = { startsAt: 0, endsAt: 1000, cap: 2 };

/**
 * An in-memory admission authority with the Durable Object's semantics (minus persistence), counting
 * every call so the tests can tell what the cache answered by itself.
 */
function memoryAuthority() {
  const releases = new Map<string, Set<string>>();
  const calls = { admit: 0, lookup: 0, members: 0 };
  let failMembers = false;
  const setOf = (r: string) => {
    let s = releases.get(r);
    if (!s) {
      s = new Set();
      releases.set(r, s);
    }
    return s;
  };
  const authority: AdmissionAuthority = {
    admit: async (releaseId, deviceId, w, now) => {
      calls.admit += 1;
      const s = setOf(releaseId);
      if (!s.has(deviceId) && now >= w.startsAt && now < w.endsAt && s.size < w.cap) s.add(deviceId);
      return { admitted: s.has(deviceId), closed: s.size >= w.cap || now >= w.endsAt };
    },
    lookup: async (releaseId, deviceId) => {
      calls.lookup += 1;
      const s = setOf(releaseId);
      return { admitted: s.has(deviceId), closed: s.size >= WINDOW.cap };
    },
    members: async (releaseId) => {
      calls.members += 1;
      if (failMembers) throw new Error("unavailable");
      return [...setOf(releaseId)];
    },
  };
  return { authority, calls, failMembers: (v: boolean) => (failMembers = v) };
}

describe("isolate admission cache", () => {
  it("remembers an admitted device and does not ask again", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority);
    expect(await gate.admit("r1", "a", WINDOW, 1)).toEqual({ admitted: true, closed: false });
    expect(await gate.admit("r1", "a", WINDOW, 2)).toEqual({ admitted: true, closed: false });
    expect(await gate.lookup("r1", "a")).toEqual({ admitted: true, closed: false });
    expect(mem.calls.admit).toBe(1);
    expect(mem.calls.lookup).toBe(0);
  });

  it("never remembers a 'no' while the release is open", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority);
    expect(await gate.admit("r1", "a", WINDOW, -1)).toEqual({ admitted: false, closed: false });
    expect(await gate.admit("r1", "a", WINDOW, 1)).toEqual({ admitted: true, closed: false });
    expect(mem.calls.admit).toBe(2);
  });

  it("fetches the member set once when closed and answers from it afterwards", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority);
    await gate.admit("r1", "a", WINDOW, 1);
    expect(await gate.admit("r1", "b", WINDOW, 2)).toEqual({ admitted: true, closed: true });
    expect(mem.calls.members).toBe(1);
    const before = { ...mem.calls };
    expect(await gate.admit("r1", "c", WINDOW, 3)).toEqual({ admitted: false, closed: true });
    expect(await gate.admit("r1", "a", WINDOW, 4)).toEqual({ admitted: true, closed: true });
    expect(await gate.lookup("r1", "b")).toEqual({ admitted: true, closed: true });
    expect(await gate.lookup("r1", "z")).toEqual({ admitted: false, closed: true });
    expect(mem.calls).toEqual(before);
  });

  it("caches the set of a release closed by time, not by cap", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority);
    await gate.admit("r1", "a", WINDOW, 1);
    expect(await gate.admit("r1", "late", WINDOW, WINDOW.endsAt)).toEqual({ admitted: false, closed: true });
    expect(await gate.admit("r1", "a", WINDOW, WINDOW.endsAt + 1)).toEqual({ admitted: true, closed: true });
    expect(mem.calls).toEqual({ admit: 2, lookup: 0, members: 1 });
  });

  it("fetches the set only once for concurrent closed answers, sharing no promise", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority);
    await Promise.all(["a", "b", "c", "d", "e"].map((d, i) => gate.admit("r1", d, WINDOW, WINDOW.endsAt + i)));
    expect(mem.calls.members).toBe(1);
  });

  it("keeps the answer in hand when the member fetch fails, and retries later", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority);
    mem.failMembers(true);
    await gate.admit("r1", "a", WINDOW, 1);
    expect(await gate.admit("r1", "b", WINDOW, 2)).toEqual({ admitted: true, closed: true });
    mem.failMembers(false);
    expect(await gate.admit("r1", "c", WINDOW, 3)).toEqual({ admitted: false, closed: true });
    expect(mem.calls.members).toBe(2);
    const admits = mem.calls.admit;
    expect(await gate.admit("r1", "c", WINDOW, 4)).toEqual({ admitted: false, closed: true });
    expect(mem.calls.admit).toBe(admits);
  });

  it("forgets the oldest admitted pair beyond maxPairs", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority, { maxPairs: 2, maxMembers: 10 });
    const wide = { ...WINDOW, cap: 100 };
    for (const d of ["a", "b", "c"]) await gate.admit("r1", d, wide, 1);
    expect(mem.calls.admit).toBe(3);
    await gate.admit("r1", "c", wide, 2);
    await gate.admit("r1", "b", wide, 2);
    expect(mem.calls.admit).toBe(3);
    expect(await gate.admit("r1", "a", wide, 2)).toEqual({ admitted: true, closed: false });
    expect(mem.calls.admit).toBe(4);
  });

  it("holds at most maxMembers ids across closed sets, dropping the oldest release", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority, { maxPairs: 10, maxMembers: 3 });
    for (const r of ["r1", "r2"]) {
      await gate.admit(r, "a", WINDOW, 1);
      await gate.admit(r, "b", WINDOW, 2);
    }
    expect(mem.calls.members).toBe(2);
    const before = mem.calls.admit;
    await gate.admit("r2", "x", WINDOW, 3);
    expect(mem.calls.admit).toBe(before);
    expect(await gate.admit("r1", "x", WINDOW, 3)).toEqual({ admitted: false, closed: true });
    expect(mem.calls.admit).toBe(before + 1);
    expect(mem.calls.members).toBe(3);
  });

  it("does not fetch again a closed set larger than maxMembers", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority, { maxPairs: 10, maxMembers: 1 });
    await gate.admit("r1", "a", WINDOW, 1);
    await gate.admit("r1", "b", WINDOW, 2);
    await gate.admit("r1", "c", WINDOW, 3);
    await gate.admit("r1", "d", WINDOW, 4);
    expect(mem.calls.members).toBe(1);
    expect(mem.calls.admit).toBe(4);
  });

  it("tells what it already knows without asking: admitted pairs and closed sets, else unknown", async () => {
    const mem = memoryAuthority();
    const gate = cachedAdmissionGate(mem.authority);
    expect(gate.known?.("r1", "a")).toBe("unknown");
    await gate.admit("r1", "a", WINDOW, 1);
    expect(gate.known?.("r1", "a")).toBe("admitted");
    expect(gate.known?.("r1", "b")).toBe("unknown"); // open release: a "no" is never known
    expect(gate.known?.("r2", "a")).toBe("unknown");
    await gate.admit("r1", "b", WINDOW, 2); // the cap: closed, set fetched
    expect(gate.known?.("r1", "b")).toBe("admitted");
    expect(gate.known?.("r1", "c")).toBe("not_admitted");
    expect(mem.calls).toEqual({ admit: 2, lookup: 0, members: 1 });
  });
});
