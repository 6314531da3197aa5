import { AppError } from "../domain/errors";
import type { Deps, StoredObject } from "./ports";

/** A parsed `Range` header: a single byte range. Multi-range requests are served whole. */
export type ByteRange = { start: number; end: number | null } | { suffix: number };

export type PackageResponse =
  | { kind: "not_modified"; etag: string }
  | { kind: "full"; etag: string; object: StoredObject }
  | { kind: "partial"; etag: string; object: StoredObject; start: number; end: number; total: number };

/** Strong ETag of a content-addressed package: its sha256. */
export const packageEtag = (sha256: string) => `"${sha256}"`;

function matchesEtag(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  return ifNoneMatch.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

/**
 * Serves package bytes by sha256 with conditional and range semantics (RFC 9110):
 * If-None-Match → not_modified; a satisfiable single range → partial; otherwise the whole body.
 * NOT_FOUND for an unknown hash; RANGE_NOT_SATISFIABLE (with the size) when the range lies outside.
 */
export async function getPackage(
  deps: Deps,
  input: { sha256: string; ifNoneMatch: string | null; range: ByteRange | null; headOnly: boolean },
): Promise<PackageResponse> {
  const etag = packageEtag(input.sha256);
  const stored = await deps.packages.head(input.sha256);
  if (stored === null) throw new AppError("NOT_FOUND", "No package has that hash.");
  const { size, contentType } = stored;
  if (matchesEtag(input.ifNoneMatch, etag)) return { kind: "not_modified", etag };
  if (input.range !== null) {
    const r = input.range;
    const start = "suffix" in r ? Math.max(0, size - r.suffix) : r.start;
    const end = "suffix" in r ? size - 1 : Math.min(r.end ?? size - 1, size - 1);
    if (start >= size || end < start || ("suffix" in r && r.suffix === 0)) {
      throw new RangeNotSatisfiable(size);
    }
    const object = input.headOnly
      ? { body: null, size, contentType }
      : await deps.packages.get(input.sha256, { offset: start, length: end - start + 1 });
    if (object === null) throw new AppError("NOT_FOUND", "No package has that hash.");
    return { kind: "partial", etag, object, start, end, total: size };
  }
  const object = input.headOnly ? { body: null, size, contentType } : await deps.packages.get(input.sha256);
  if (object === null) throw new AppError("NOT_FOUND", "No package has that hash.");
  return { kind: "full", etag, object };
}

/** RANGE_NOT_SATISFIABLE carrying the representation size for the Content-Range header. */
export class RangeNotSatisfiable extends AppError {
  readonly size: number;
  constructor(size: number) {
    super("RANGE_NOT_SATISFIABLE", "The requested range lies outside the package.");
    this.size = size;
  }
}
