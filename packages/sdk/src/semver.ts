// Semantic Versioning 2.0.0 precedence, as the service orders versions (build metadata ignored).

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

const NUMERIC = /^\d+$/;

/** Compares two digit strings without leading zeros as numbers of any size. */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order of two semantic versions: negative when `a` is lower, 0 when equal in precedence,
 * positive when higher; null when either is not a valid semantic version.
 */
export function compareVersions(a: string, b: string): number | null {
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(b);
  if (x === null || y === null) return null;
  for (let i = 1; i <= 3; i++) {
    const c = compareDigits(x[i] as string, y[i] as string);
    if (c !== 0) return c;
  }
  const px = x[4];
  const py = y[4];
  if (px === undefined || py === undefined) return px === py ? 0 : px === undefined ? 1 : -1;
  const ix = px.split(".");
  const iy = py.split(".");
  for (let i = 0; i < Math.max(ix.length, iy.length); i++) {
    const p = ix[i];
    const q = iy[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = NUMERIC.test(p);
    const qn = NUMERIC.test(q);
    if (pn && qn) {
      const c = compareDigits(p, q);
      if (c !== 0) return c;
    } else if (pn !== qn) {
      return pn ? -1 : 1;
    } else if (p !== q) {
      return p < q ? -1 : 1;
    }
  }
  return 0;
}
