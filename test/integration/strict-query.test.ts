// Every admin route refuses a query parameter it does not declare (400), generated from the
// OpenAPI document, so a typo such as `?staus=` is never silently ignored. The package route keeps
// ignoring query strings (CDNs add them).
import { beforeAll, describe, expect, it } from "vitest";
import { auditCount, expectProblem } from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";

let token = "";
let workspaceId = "";
let operations: [string, string][] = [];

beforeAll(async () => {
  ({ token, workspaceId } = await makeWorkspace());
  const doc = await (await call("/openapi.json")).json<{ paths: Record<string, Record<string, unknown>> }>();
  operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith("/v1/admin/"))
    .flatMap(([path, ops]) => Object.keys(ops).map((method): [string, string] => [method, path]));
});

describe("unknown query parameters", () => {
  it("are refused on every admin route", async () => {
    expect(operations.length).toBeGreaterThan(40);
    const before = await auditCount(workspaceId);
    for (const [method, path] of operations) {
      const concrete = path.replace(/\{[^}]+\}/g, "x");
      const res = await call(`${concrete}?unknownParam=1`, { method: method.toUpperCase(), token });
      const { text } = await expectProblem(res, 400, "VALIDATION_FAILED");
      // The unknown name is input: never echoed.
      expect(text, `${method} ${path}`).not.toContain("unknownParam");
    }
    expect(await auditCount(workspaceId)).toBe(before);
  });

  it("are still ignored by the package route", async () => {
    const res = await call(`/v1/packages/${"0".repeat(64)}?cache-buster=1`);
    expect(res.status).toBe(404);
  });
});
