/** What an approval is bound to (docs/overview.md, "Release lifecycle"). */
export interface ApprovedContent {
  versionId: string;
  appId: string;
  environmentId: string;
  config: unknown;
  updateMode: string;
  /** The canary targeting; its `percentage` (rollout and ramp) is left out: SREs move it while live. */
  targeting: Record<string, unknown> | null;
}

/**
 * The canonical text an approval hashes: the version, target, configuration, update mode, lists,
 * filters and time window, with object keys sorted so that equal content always gives equal text.
 * The rollout percentage and ramp are not part of it.
 */
export function approvalContent(r: ApprovedContent): string {
  return contentText(r, withoutRollout(r.targeting));
}

/**
 * approvalContent as it was before a rollout-only targeting counted as none (`{}` instead of null):
 * approvals recorded then still hold.
 */
export function legacyApprovalContent(r: ApprovedContent): string {
  const { percentage: _rollout, ...rest } = r.targeting ?? {};
  return contentText(r, r.targeting === null ? null : rest);
}

function contentText(r: ApprovedContent, targeting: Record<string, unknown> | null): string {
  return canonical({
    versionId: r.versionId,
    appId: r.appId,
    environmentId: r.environmentId,
    config: r.config ?? {},
    updateMode: r.updateMode,
    targeting,
  });
}

/** The targeting without its rollout; null when nothing else is left (a rollout alone targets nothing). */
function withoutRollout(t: Record<string, unknown> | null): Record<string, unknown> | null {
  if (t === null) return null;
  const { percentage: _rollout, ...rest } = t;
  return Object.values(rest).some((v) => v !== undefined) ? rest : null;
}

/** Whether two targetings differ at most in their rollout percentage and ramp (what an approval ignores). */
export function sameApartFromRollout(a: Record<string, unknown> | null, b: Record<string, unknown> | null): boolean {
  return canonical(withoutRollout(a)) === canonical(withoutRollout(b));
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}
