import { AppError } from "../domain/errors";

/**
 * The row version a write expects: from `If-Match` (an ETag of a GET, `"3"`, weak or not) or the
 * body's `rowVersion`; null when neither is sent. VALIDATION_FAILED for a malformed If-Match or
 * when the two disagree.
 */
export function expectedVersion(ifMatch: string | undefined, rowVersion: number | undefined): number | null {
  let fromHeader: number | null = null;
  if (ifMatch !== undefined) {
    const m = /^(?:W\/)?"?(\d{1,12})"?$/.exec(ifMatch.trim());
    if (!m) {
      throw new AppError("VALIDATION_FAILED", "The request is not valid.", [
        { pointer: "/headers/if-match", message: "Must be the ETag of a GET of this resource." },
      ]);
    }
    fromHeader = Number(m[1]);
  }
  if (fromHeader !== null && rowVersion !== undefined && fromHeader !== rowVersion) {
    throw new AppError("VALIDATION_FAILED", "The request is not valid.", [
      { pointer: "/rowVersion", message: "Disagrees with If-Match." },
    ]);
  }
  return fromHeader ?? rowVersion ?? null;
}
