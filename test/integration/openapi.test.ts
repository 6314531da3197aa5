import { beforeAll, describe, expect, it } from "vitest";
import { call, makeWorkspace } from "../support/workspace";

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<
    string,
    { description?: string; headers?: Record<string, unknown>; content?: Record<string, unknown> }
  >;
}

interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

/** Every route the routers under src/http define, in OpenAPI path syntax. */
const ROUTES: [string, string[]][] = [
  ["/v1/admin/apps", ["get", "post"]],
  ["/v1/admin/apps/{appId}", ["get", "delete"]],
  ["/v1/admin/apps/{appId}/environments", ["post"]],
  ["/v1/admin/apps/{appId}/environments/{env}", ["delete"]],
  ["/v1/admin/mini-programs", ["get", "post"]],
  ["/v1/admin/mini-programs/{miniProgramId}", ["get", "patch"]],
  ["/v1/admin/mini-programs/{miniProgramId}/members", ["get"]],
  ["/v1/admin/mini-programs/{miniProgramId}/members/{memberId}", ["put", "delete"]],
  ["/v1/admin/mini-programs/{miniProgramId}/features", ["get"]],
  ["/v1/admin/mini-programs/{miniProgramId}/features/{featureId}", ["put", "delete"]],
  ["/v1/admin/mini-programs/{miniProgramId}/removal-requests", ["post"]],
  ["/v1/admin/removal-requests", ["get"]],
  ["/v1/admin/removal-requests/{requestId}", ["get", "delete"]],
  ["/v1/admin/removal-requests/{requestId}/decision", ["post"]],
  ["/v1/admin/features", ["get", "post"]],
  ["/v1/admin/features/{featureId}", ["get", "delete"]],
  ["/v1/admin/publisher-keys", ["get", "post"]],
  ["/v1/admin/publisher-keys/{keyId}", ["get", "delete"]],
  ["/v1/admin/members", ["get", "post"]],
  ["/v1/admin/members/{memberId}", ["get", "patch", "delete"]],
  ["/v1/admin/tokens", ["get", "post"]],
  ["/v1/admin/tokens/{tokenId}", ["get", "delete"]],
  ["/v1/admin/tokens/{tokenId}/rotations", ["post"]],
  ["/v1/admin/workspace", ["get", "patch"]],
  ["/v1/workspaces", ["post"]],
  ["/v1/workspaces/{workspaceId}/admins", ["post"]],
  ["/v1/invites/accept", ["post"]],
  ["/v1/admin/mini-programs/{miniProgramId}/versions", ["get", "post"]],
  ["/v1/admin/mini-programs/{miniProgramId}/versions/{version}", ["get", "delete"]],
  ["/v1/admin/mini-programs/{miniProgramId}/patches", ["get"]],
  ["/v1/admin/mini-programs/{miniProgramId}/patches/{patchId}/retry", ["post"]],
  ["/v1/admin/releases", ["get", "post"]],
  ["/v1/admin/releases/{releaseId}", ["get", "patch", "delete"]],
  ["/v1/admin/releases/{releaseId}/transitions", ["post"]],
  ["/v1/admin/releases/{releaseId}/features", ["get"]],
  ["/v1/admin/releases/{releaseId}/stats", ["get"]],
  ["/v1/admin/releases/{releaseId}/estimate", ["post"]],
  ["/v1/admin/releases/{releaseId}/health", ["get"]],
  ["/v1/admin/releases/{releaseId}/health-policy", ["put", "delete"]],
  ["/v1/admin/mini-programs/{miniProgramId}/installed-versions", ["get"]],
  ["/v1/admin/releases/{releaseId}/qr-codes", ["get", "post"]],
  ["/v1/admin/releases/{releaseId}/qr-codes/{codeId}", ["get", "delete"]],
  ["/v1/admin/releases/{releaseId}/qr-codes/{codeId}/svg", ["get"]],
  ["/v1/admin/releases/{releaseId}/qr-codes/{codeId}/png", ["get"]],
  ["/v1/admin/audit-logs", ["get"]],
  ["/v1/admin/webhook", ["get", "put", "delete"]],
  ["/v1/admin/webhook/deliveries", ["get"]],
  ["/v1/admin/webhook/test", ["post"]],
  ["/v1/admin/allowlists/{allowlistId}", ["get", "delete"]],
  ["/v1/bootstrap", ["post"]],
  ["/v1/check", ["post"]],
  ["/v1/events", ["post"]],
  ["/v1/packages/{sha256}", ["get", "head"]],
  ["/v1/keys", ["get"]],
];

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

let doc: OpenApiDoc;
let raw: string;

beforeAll(async () => {
  const res = await call("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  raw = await res.text();
  doc = JSON.parse(raw) as OpenApiDoc;
});

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.title).toBe("Updraft");
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it.each(ROUTES)("documents %s with its methods", (path, methods) => {
    const item = doc.paths[path];
    expect(item, `missing ${path}`).toBeDefined();
    const documented = Object.keys(item ?? {}).filter((k) => METHODS.includes(k));
    expect(documented.sort()).toEqual([...methods].sort());
  });

  it("documents only operations that are routed", async () => {
    const { token } = await makeWorkspace("reviewer");
    for (const [path, item] of Object.entries(doc.paths)) {
      const concrete = path.replaceAll(/\{(\w+)\}/g, (_m, name: string) =>
        name === "sha256" ? "0".repeat(64) : "1.0.0",
      );
      for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
        const res = await call(concrete, { method: method.toUpperCase(), token });
        const text = await res.text();
        expect(text, `${method} ${path}`).not.toContain("ROUTE_NOT_FOUND");
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
      }
    }
  });

  it("declares every path parameter and a response for every operation", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method)) continue;
        const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual([...names].sort());
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
  });

  it("puts every admin operation behind the bearer scheme and documents its problem responses", () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith("/v1/admin/")) continue;
      for (const [method, op] of Object.entries(item)) {
        expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
        for (const status of ["400", "401", "403", "404", "503"]) {
          expect(Object.keys(op.responses[status]?.content ?? {}), `${method} ${path} ${status}`).toEqual([
            "application/problem+json",
          ]);
        }
      }
    }
  });

  it("documents the budget refusals (422) of every change measured against its environment's budgets", () => {
    const measured = [
      ["/v1/admin/releases/{releaseId}/transitions", "post"],
      ["/v1/admin/releases/{releaseId}/targeting", "put"],
      ["/v1/admin/releases/{releaseId}/rollout", "put"],
      ["/v1/admin/allowlists/{allowlistId}/entries", "put"],
      ["/v1/admin/allowlists/{allowlistId}/entries", "post"],
    ] as const;
    for (const [path, method] of measured) {
      const op = doc.paths[path]?.[method];
      expect(op?.responses["422"]?.description, `${method} ${path}`).toContain("REGEX_BUDGET_EXCEEDED");
      expect(op?.responses["503"]?.headers, `${method} ${path}`).toHaveProperty("retry-after");
    }
  });

  it("documents request bodies: JSON for JSON routes, zip for uploads", () => {
    const body = (path: string, method: string) => Object.keys(doc.paths[path]?.[method]?.requestBody?.content ?? {});
    expect(body("/v1/check", "post")).toEqual(["application/json"]);
    expect(body("/v1/events", "post")).toEqual(["application/json"]);
    expect(body("/v1/admin/apps", "post")).toEqual(["application/json"]);
    expect(body("/v1/admin/releases/{releaseId}/transitions", "post")).toEqual(["application/json"]);
    expect(body("/v1/admin/features", "post")).toEqual(["application/json"]);
    expect(body("/v1/admin/mini-programs/{miniProgramId}/removal-requests", "post")).toEqual(["application/json"]);
    expect(body("/v1/admin/removal-requests/{requestId}/decision", "post")).toEqual(["application/json"]);
    expect(body("/v1/admin/mini-programs/{miniProgramId}/versions", "post")).toEqual(["application/zip"]);
  });

  it("resolves every $ref", () => {
    const refs = [...raw.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      const name = ref.slice("#/components/schemas/".length);
      expect(doc.components?.schemas?.[name], ref).toBeDefined();
    }
  });
});
