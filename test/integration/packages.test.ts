import { beforeAll, describe, expect, it } from "vitest";
import { createMiniProgram, expectProblem, uploadRequest } from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";
import { makeZip, sha256Hex } from "../support/zip";

const IMMUTABLE = "public, max-age=31536000, immutable";

let bytes: Uint8Array;
let sha: string;
let url: string;

beforeAll(async () => {
  const { token } = await makeWorkspace();
  const mp = await createMiniProgram(token);
  // Incompressible-ish content so the package is comfortably larger than every range asked for.
  const files: Record<string, string> = {};
  for (let i = 0; i < 20; i++)
    files[`pages/p${i}.js`] = `export const page${i} = ${JSON.stringify(crypto.randomUUID())};`;
  bytes = makeZip(files);
  const res = await uploadRequest(token, mp.key, "1.0.0", bytes);
  expect(res.status).toBe(201);
  sha = (await res.json<{ sha256: string }>()).sha256;
  expect(sha).toBe(await sha256Hex(bytes));
  url = `/v1/packages/${sha}`;
});

const size = () => bytes.byteLength;

function expectCacheable(res: Response) {
  expect(res.headers.get("cache-control")).toBe(IMMUTABLE);
  expect(res.headers.get("etag")).toBe(`"${sha}"`);
}

describe("GET /v1/packages/{sha256}", () => {
  it("serves the exact bytes, immutable, with a strong ETag and byte ranges advertised", async () => {
    const res = await call(url);
    expect(res.status).toBe(200);
    expectCacheable(res);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-type")).toBe("application/zip");
    expect(res.headers.get("content-length")).toBe(String(size()));
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body).toEqual(bytes);
    expect(await sha256Hex(body)).toBe(sha);
  });

  it("HEAD answers with the same headers and no body", async () => {
    const res = await call(url, { method: "HEAD" });
    expect(res.status).toBe(200);
    expectCacheable(res);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-length")).toBe(String(size()));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it.each([
    ["the exact ETag", () => `"${sha}"`],
    ["a list of ETags containing it", () => `"0000", W/"1111",   "${sha}"  `],
    ["a weak form of it (If-None-Match compares weakly)", () => `W/"${sha}"`],
    ["*", () => "*"],
  ])("If-None-Match with %s → 304 without a body", async (_name, header) => {
    const res = await call(url, { headers: { "if-none-match": header() } });
    expect(res.status).toBe(304);
    expectCacheable(res);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it("If-None-Match with other ETags → 200", async () => {
    const res = await call(url, { headers: { "if-none-match": `"${"f".repeat(64)}", W/"abc"` } });
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it("If-None-Match wins over Range", async () => {
    const res = await call(url, { headers: { "if-none-match": `"${sha}"`, range: "bytes=0-9" } });
    expect(res.status).toBe(304);
    await res.body?.cancel();
  });

  it.each<[string, () => [number, number]]>([
    ["bytes=0-9", () => [0, 9]],
    ["bytes=-5", () => [size() - 5, size() - 1]],
    ["bytes=10-", () => [10, size() - 1]],
    ["bytes=3-3", () => [3, 3]],
    ["bytes=5-99999999", () => [5, size() - 1]],
    ["bytes=0-9999999999999999", () => [0, size() - 1]],
    ["bytes=-99999999999999999999", () => [0, size() - 1]],
  ])("Range %s → 206 with exactly those bytes", async (range, expected) => {
    const [start, end] = expected();
    const res = await call(url, { headers: { range } });
    expect(res.status).toBe(206);
    expectCacheable(res);
    expect(res.headers.get("content-range")).toBe(`bytes ${start}-${end}/${size()}`);
    expect(res.headers.get("content-length")).toBe(String(end - start + 1));
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes.slice(start, end + 1));
  });

  it("a HEAD with a Range answers 206 headers and no body", async () => {
    const res = await call(url, { method: "HEAD", headers: { range: "bytes=0-9" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes 0-9/${size()}`);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it.each(["bytes=0-1,5-6", "items=0-9", "bytes=abc", "bytes=9-2x"])(
    "an unsupported or malformed Range %s is ignored: 200 with the whole body",
    async (range) => {
      const res = await call(url, { headers: { range } });
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    },
  );

  it.each(["bytes=999999-", "bytes=-0", "bytes=9-3", "bytes=10000000000000000-", `bytes=${"9".repeat(400)}-`])(
    "an unsatisfiable Range %s → 416 with content-range bytes */size",
    async (range) => {
      const res = await call(url, { headers: { range } });
      await expectProblem(res, 416, "RANGE_NOT_SATISFIABLE");
      expect(res.headers.get("content-range")).toBe(`bytes */${size()}`);
    },
  );

  it("an unknown hash → 404 problem", async () => {
    const res = await call(`/v1/packages/${"0".repeat(64)}`);
    await expectProblem(res, 404, "NOT_FOUND");
    expect(res.headers.get("cache-control")).not.toBe(IMMUTABLE);
  });

  it("HEAD of an unknown hash → 404 without a body", async () => {
    const res = await call(`/v1/packages/${"0".repeat(64)}`, { method: "HEAD" });
    expect(res.status).toBe(404);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it.each([
    ["upper-case hex", () => sha.toUpperCase()],
    ["too short", () => sha.slice(1)],
    ["not hex", () => "z".repeat(64)],
    ["with an extension", () => `${sha}.zip`],
  ])("a malformed hash (%s) → 400 problem", async (_name, hash) => {
    const res = await call(`/v1/packages/${hash()}`);
    const { body } = await expectProblem(res, 400, "VALIDATION_FAILED");
    expect(body.errors?.[0]?.pointer).toBe("/sha256");
  });
});
