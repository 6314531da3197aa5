import { createMiddleware } from "hono/factory";
import { AppError } from "../domain/errors";
import { readBodyWithLimit } from "./body";
import type { HttpEnv } from "./types";

/** Largest JSON body accepted on any route. */
export const JSON_BODY_LIMIT = 1024 * 1024;

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * For requests that carry a JSON body: 415 unless the media type is JSON, 413 past the limit
 * (enforced while reading), 400 MALFORMED_JSON when it does not parse. The parsed value is
 * handed to the route validators through Hono's body cache, so the body is read once.
 */
export const jsonBody = createMiddleware<HttpEnv>(async (c, next) => {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim() ?? "";
  if (!JSON_TYPE.test(mediaType)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json.");
  }
  const bytes = await readBodyWithLimit(c.req.raw, JSON_BODY_LIMIT);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new AppError("MALFORMED_JSON", "The request body is not valid JSON.");
  }
  c.req.bodyCache.json = Promise.resolve(parsed);
  await next();
});
