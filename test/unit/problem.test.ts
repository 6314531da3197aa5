import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/domain/errors";
import { newRequestId, PROBLEMS, problemBody } from "../../src/http/problem";

describe("problem table", () => {
  it("maps every error code to an error status (never 2xx/3xx)", () => {
    for (const code of ERROR_CODES) {
      expect(PROBLEMS[code].status).toBeGreaterThanOrEqual(400);
      expect(PROBLEMS[code].title.length).toBeGreaterThan(0);
    }
    expect(Object.keys(PROBLEMS).sort()).toEqual([...ERROR_CODES].sort());
  });

  it("builds RFC 9457 bodies with a stable type per code", () => {
    expect(problemBody("VERSION_CONFLICT", "d", "req_1")).toEqual({
      type: "urn:updraft:problem:version-conflict",
      title: "Version conflict",
      status: 409,
      detail: "d",
      code: "VERSION_CONFLICT",
      requestId: "req_1",
    });
  });
});

describe("newRequestId", () => {
  it("makes distinct ids of req_ and 32 hex digits, sharing the isolate's random prefix", () => {
    const ids = Array.from({ length: 10_000 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.slice(0, 20))).size).toBe(1);
  });
});
