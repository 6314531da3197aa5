import { createMiddleware } from "hono/factory";
import { AppError } from "../domain/errors";
import { readBodyWithLimit } from "./body";
import type { HttpEnv } from "./types";

/** Largest JSON body accepted on any route. */
export const JSON_BODY_LIMIT = 1024 * 1024;

// One strict decoder per isolate: decode() without streaming keeps no state between calls.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

// The JSON media types every route accepts, parameters included (`application/json; charset=utf-8`,
// `application/vnd.x+json`): exactly what @hono/zod-openapi's gate on the admin routes accepts, so a
// body this lets through is never refused later by the router.
const JSON_TYPE = /^application\/([a-z.-]+\+)?json(;\s*[a-z0-9-]+=[^;]+)*$/i;

/**
 * The body of a request that must carry JSON, as text: UNSUPPORTED_MEDIA_TYPE unless the media type
 * is JSON, PAYLOAD_TOO_LARGE past the limit (enforced while reading), MALFORMED_JSON unless it is
 * valid UTF-8.
 */
export async function readJsonText(request: Request, limit: number = JSON_BODY_LIMIT): Promise<string> {
  const type = request.headers.get("content-type");
  // The header every SDK sends needs no parsing (the device check reads a body on every request).
  if (type !== "application/json" && !JSON_TYPE.test(type ?? "")) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json.");
  }
  const bytes = await readBodyWithLimit(request, limit);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new AppError("MALFORMED_JSON", "The request body is not valid JSON.");
  }
}

/** JSON.parse, failing with MALFORMED_JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("MALFORMED_JSON", "The request body is not valid JSON.");
  }
}

/**
 * Refuses a `__proto__` key anywhere in a parsed body (VALIDATION_FAILED, with its pointer). JSON
 * makes it an ordinary key, but assigning it to an object sets the prototype instead, so validators
 * and record copies would drop it without a word: a client must learn it was not taken.
 */
export function refuseProtoKeys(root: unknown): void {
  // An explicit stack: bodies may nest 100,000 levels deep (valid JSON), past any call stack.
  const stack: [unknown, string][] = [[root, ""]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, pointer] = next;
    if (typeof value !== "object" || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push([value[i], `${pointer}/${i}`]);
      continue;
    }
    for (const key of Object.keys(value)) {
      const at = `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (key === "__proto__") {
        throw new AppError("VALIDATION_FAILED", "The request body is not valid.", [
          { pointer: at, message: "__proto__ is not allowed as a key." },
        ]);
      }
      stack.push([(value as Record<string, unknown>)[key], at]);
    }
  }
}

/**
 * Middleware for routes that carry a JSON body (see readJsonText). The parsed value is handed to the
 * route validators through Hono's body cache, so the body is read once.
 */
export const jsonBody = createMiddleware<HttpEnv>(async (c, next) => {
  const parsed = parseJson(await readJsonText(c.req.raw));
  refuseProtoKeys(parsed);
  c.req.bodyCache.json = Promise.resolve(parsed);
  await next();
});

/** jsonBody for routes whose body is optional: a request without a content type passes untouched. */
export const optionalJsonBody = createMiddleware<HttpEnv>(async (c, next) => {
  if (c.req.header("content-type") === undefined) return next();
  return jsonBody(c, next);
});
