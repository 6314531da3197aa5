import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type ByteRange, getPackage, RangeNotSatisfiable } from "../../usecases/get-package";
import { problem } from "../problem";
import { problemResponse } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const IMMUTABLE = "public, max-age=31536000, immutable";

/** Parses a single `bytes=` range; anything else (multi-range, other units, garbage) is ignored per RFC 9110. */
function parseRange(header: string | undefined): ByteRange | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m) return null;
  const [, from = "", to = ""] = m;
  if (from === "" && to === "") return null;
  // Positions past any package's size read as the largest safe integer: a start that far is past
  // the end (416), an end that far is clamped to the last byte (206), as for any other large number.
  const position = (digits: string) => Math.min(Number(digits), Number.MAX_SAFE_INTEGER);
  if (from === "") return { suffix: position(to) };
  return { start: position(from), end: to === "" ? null : position(to) };
}

const Params = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "Must be a lower-case hex sha256."),
});

async function serve(c: Context<HttpEnv>, sha256: string, headOnly: boolean): Promise<Response> {
  try {
    const r = await getPackage(c.var.deps, {
      sha256,
      ifNoneMatch: c.req.header("if-none-match") ?? null,
      range: parseRange(c.req.header("range")),
      headOnly,
    });
    const headers = new Headers({ etag: r.etag, "cache-control": IMMUTABLE, "accept-ranges": "bytes" });
    if (r.kind === "not_modified") return new Response(null, { status: 304, headers });
    headers.set("content-type", r.object.contentType ?? "application/zip");
    if (r.kind === "partial") {
      headers.set("content-range", `bytes ${r.start}-${r.end}/${r.total}`);
      headers.set("content-length", String(r.end - r.start + 1));
      return new Response(headOnly ? null : r.object.body, { status: 206, headers });
    }
    headers.set("content-length", String(r.object.size));
    return new Response(headOnly ? null : r.object.body, { status: 200, headers });
  } catch (error) {
    if (error instanceof RangeNotSatisfiable) {
      return problem(c, error.code, error.message, undefined, { "content-range": `bytes */${error.size}` });
    }
    throw error;
  }
}

const route = createRoute({
  method: "get",
  path: "/packages/{sha256}",
  tags: ["device"],
  summary: "Download package bytes by sha256 (also HEAD)",
  description:
    "Immutable, content-addressed: `Cache-Control: public, max-age=31536000, immutable`, strong ETag (the sha256), " +
    "`If-None-Match` → 304, a single `Range: bytes=` → 206 (416 when unsatisfiable).",
  request: { params: Params },
  responses: {
    200: {
      description: "The bytes",
      content: { "application/zip": { schema: z.string().openapi({ format: "binary" }) } },
    },
    206: { description: "A byte range" },
    304: { description: "Not modified" },
    400: problemResponse("Not a lower-case hex sha256"),
    404: problemResponse("Unknown hash"),
    416: problemResponse("Range not satisfiable"),
  },
});

// Hono answers HEAD with the GET handler; `headOnly` skips reading the bytes from R2.
export const packagesRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook }).openapi(
  route,
  async (c) => (await serve(c, c.req.valid("param").sha256, c.req.method === "HEAD")) as never,
);
packagesRouter.openAPIRegistry.registerPath({
  ...route,
  method: "head",
  summary: "Package size, ETag and headers without the bytes",
  responses: {
    200: { description: "Headers of the whole package" },
    206: { description: "Headers of a byte range" },
    304: { description: "Not modified" },
    400: { description: "Not a lower-case hex sha256" },
    404: { description: "Unknown hash" },
    416: { description: "Range not satisfiable" },
  },
});
