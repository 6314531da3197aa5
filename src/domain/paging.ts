/** A sort key: compared element by element, numbers before strings. */
export type SortKey = readonly (string | number)[];

export interface PageOf<T> {
  items: T[];
  /** Opaque; pass as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

/** Default and largest page sizes of admin lists. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

const encode = (key: SortKey) =>
  btoa(JSON.stringify(key)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

/** The sort key a cursor names, or null when it is not one of ours. */
export function decodeCursor(cursor: string): SortKey | null {
  try {
    const key: unknown = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
    return Array.isArray(key) && key.every((k) => typeof k === "string" || typeof k === "number") ? key : null;
  } catch {
    return null;
  }
}

/**
 * One page of `items` in the order of `keyOf` (a unique key per item, e.g. ending with the id):
 * the `limit` items after the cursor's key. Keyed, not positional, so items added or removed
 * between two pages never make a page skip or repeat the others.
 */
export function pageOf<T>(
  items: readonly T[],
  keyOf: (item: T) => SortKey,
  after: SortKey | null,
  limit: number,
): PageOf<T> {
  const keyed = items.map((item) => ({ item, key: keyOf(item) })).sort((a, b) => compareKeys(a.key, b.key));
  const start = after === null ? 0 : keyed.findIndex((k) => compareKeys(k.key, after) > 0);
  const rest = start === -1 ? [] : keyed.slice(start);
  const page = rest.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((k) => k.item),
    nextCursor: rest.length > limit && last !== undefined ? encode(last.key) : null,
  };
}
