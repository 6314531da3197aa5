import { z } from "@hono/zod-openapi";
import { AppError } from "../domain/errors";
import { DEFAULT_PAGE_SIZE, decodeCursor, MAX_PAGE_SIZE, type PageOf, pageOf, type SortKey } from "../domain/paging";

/** The `limit` and `cursor` every admin list takes. */
export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  cursor: z.string().min(1).max(1000).optional().describe("The nextCursor of the previous page."),
};

/** A page of a list as every admin list answers it: `{ items, nextCursor }`. */
export function paged<T>(
  items: readonly T[],
  keyOf: (item: T) => SortKey,
  query: { limit: number; cursor?: string | undefined },
): PageOf<T> {
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
  if (query.cursor !== undefined && after === null) {
    throw new AppError("VALIDATION_FAILED", "The request query is not valid.", [
      { pointer: "/cursor", message: "Must be a nextCursor value from a previous page." },
    ]);
  }
  return pageOf(items, keyOf, after, query.limit);
}

export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
