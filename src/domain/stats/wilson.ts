// Wilson score interval for a binomial proportion (issue #16, health gates). Pure.
//
// With p̂ = k/n and a two-sided normal quantile z, the lower bound is
//   L = (p̂ + z²/2n − z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n).
// Unlike p̂ − z·σ̂ it stays within [0, 1] and is sound at small n and at p̂ = 0: a gate on L trips
// only when the true rate is over the threshold with about the chosen confidence (one-sided
// about 97.5 % at z = 1.96), instead of on the first failures of a few attempts.

/** Two-sided normal quantiles for the confidences a health gate supports. */
export const Z_90 = 1.6448536269514722;
export const Z_95 = 1.959963984540054;
export const Z_99 = 2.5758293035489004;

/**
 * Lower bound of the Wilson score interval for `successes` of `trials` (integers, 0 ≤ successes ≤
 * trials) at quantile `z` (default 95 %). 0 trials give 0. Throws a RangeError on other input.
 */
export function wilsonLowerBound(successes: number, trials: number, z: number = Z_95): number {
  if (!Number.isSafeInteger(trials) || trials < 0) throw new RangeError("trials must be an integer ≥ 0");
  if (!Number.isSafeInteger(successes) || successes < 0 || successes > trials) {
    throw new RangeError("successes must be an integer from 0 to trials");
  }
  if (!(Number.isFinite(z) && z > 0)) throw new RangeError("z must be a finite number > 0");
  // Exactly 0 without successes (the formula's two terms cancel; rounding can leave ±1e-22).
  if (successes === 0) return 0;
  const n = trials;
  const p = successes / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return (centre - spread) / (1 + z2 / n);
}
