import { MAX_PATTERN_REGEX_COST, MAX_RULE_REGEX_COST } from "../../src/domain/targeting/rules";

/** Patterns `a{n}` (n + 2 units each) summing to exactly `total` units. */
export function patternsCosting(total: number): string[] {
  const out: string[] = [];
  for (let left = total; left > 0; ) {
    const c = Math.min(left, MAX_PATTERN_REGEX_COST);
    const take = left - c > 0 && left - c < 3 ? c - 3 : c;
    out.push(take === 3 ? "a" : `a{${take - 2}}`);
    left -= take;
  }
  return out;
}

/**
 * Regex rules on custom attributes no device sends (distinct per tag) costing exactly `total` units,
 * plus 100 % of the rest, and `extra` targeting.
 */
export function regexTargeting(total: number, tag: string, extra: Record<string, unknown> = {}) {
  const rules = [];
  for (let left = total, i = 0; left > 0; i++) {
    const c = Math.min(left, MAX_RULE_REGEX_COST);
    rules.push({ attribute: `custom:${tag}${i}`, operator: "regex", values: patternsCosting(c) });
    left -= c;
  }
  return { rules, percentage: { basisPoints: 10000 }, ...extra };
}
