import { describe, expect, it } from "vitest";
import { MAX_FIELD_ERRORS } from "../../src/domain/errors";
import { EVENT_LIMITS, EVENT_TYPES, parseEventBatch } from "../../src/domain/stats/event-batch";

const NOW = Date.UTC(2026, 11, 4);
const event = (over: Record<string, unknown> = {}) => ({
  id: "e-1",
  type: "install_ok",
  miniProgram: "demo-pay",
  version: "1.2.0",
  releaseId: "rel_abc",
  at: NOW - 1000,
  ...over,
});
const batch = (events: unknown[], over: Record<string, unknown> = {}) => ({
  appId: "demo-wallet",
  env: "prod",
  deviceId: "device-1",
  events,
  ...over,
});
const problemsOf = (value: unknown) => {
  const out = parseEventBatch(value, NOW);
  return "problems" in out ? out.problems.map((p) => p.pointer) : [];
};

describe("parseEventBatch", () => {
  it("accepts every event type, with or without an error code", () => {
    const events = EVENT_TYPES.map((type, i) =>
      event({ id: `e${i}`, type, ...(i % 2 ? { errorCode: "E_NET_01" } : {}) }),
    );
    const out = parseEventBatch(batch(events), NOW);
    expect("batch" in out && out.batch.events.map((e) => [e.type, e.errorCode])).toEqual(
      EVENT_TYPES.map((type, i) => [type, i % 2 ? "E_NET_01" : null]),
    );
  });

  it("counts an id repeated within a batch once", () => {
    const out = parseEventBatch(batch([event(), event({ type: "launch_ok" }), event({ id: "e-2" })]), NOW);
    expect("batch" in out && out.batch.events.map((e) => [e.id, e.type])).toEqual([
      ["e-1", "install_ok"],
      ["e-2", "install_ok"],
    ]);
  });

  it("refuses a bad batch whole, naming each field", () => {
    expect(problemsOf(null)).toEqual([""]);
    expect(problemsOf(batch([]))).toEqual(["/events"]);
    expect(
      problemsOf(batch(Array.from({ length: EVENT_LIMITS.events + 1 }, (_, i) => event({ id: `e${i}` })))),
    ).toEqual(["/events"]);
    expect(problemsOf(batch([event()], { appId: "" }))).toEqual(["/appId"]);
    expect(problemsOf(batch([event()], { extra: 1 }))).toEqual(["/extra"]);
    expect(problemsOf(batch([event({ type: "crashed" })]))).toEqual(["/events/0/type"]);
    expect(problemsOf(batch([event({ id: "has space" })]))).toEqual(["/events/0/id"]);
    expect(problemsOf(batch([event({ id: "x".repeat(65) })]))).toEqual(["/events/0/id"]);
    expect(problemsOf(batch([event({ errorCode: "lower" })]))).toEqual(["/events/0/errorCode"]);
    expect(problemsOf(batch([event({ at: 1.5 })]))).toEqual(["/events/0/at"]);
    expect(problemsOf(batch([event({ at: NOW - EVENT_LIMITS.maxAgeMs - 1 })]))).toEqual(["/events/0/at"]);
    expect(problemsOf(batch([event({ at: NOW + EVENT_LIMITS.maxAheadMs + 1 })]))).toEqual(["/events/0/at"]);
    expect(problemsOf(batch([event(), event({ id: "e-2", releaseId: 7 })]))).toEqual(["/events/1/releaseId"]);
    expect(problemsOf(batch([event({ unknown: true })]))).toEqual(["/events/0/unknown"]);
    expect(problemsOf(batch(["not an event"]))).toEqual(["/events/0"]);
  });

  it("reports at most MAX_FIELD_ERRORS problems", () => {
    const bad = Array.from({ length: 100 }, (_, i) => event({ id: `e${i}`, type: "x", version: "" }));
    const out = parseEventBatch(batch(bad), NOW);
    expect("problems" in out && out.problems.length).toBe(MAX_FIELD_ERRORS);
  });
});
