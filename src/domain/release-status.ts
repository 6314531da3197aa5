/** Release lifecycle (docs/overview.md; a "release task" in mPaaS, a "release record" in Alipay+). */
export const RELEASE_STATUSES = [
  "created",
  "in_review",
  "rejected",
  "approved",
  "canary",
  "full",
  "paused",
  "ended",
  "archived",
  "cancelled",
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

/** Statuses a caller may ask for; `archived` is set only by the system when a newer full release supersedes. */
export const REQUESTABLE_STATUSES = [
  "in_review",
  "rejected",
  "approved",
  "created",
  "canary",
  "full",
  "paused",
  "ended",
  "cancelled",
] as const;
export type RequestableStatus = (typeof REQUESTABLE_STATUSES)[number];

const NEXT: Readonly<Record<ReleaseStatus, readonly ReleaseStatus[]>> = {
  created: ["in_review", "cancelled"],
  in_review: ["approved", "rejected"],
  rejected: ["created", "cancelled"],
  approved: ["canary", "full", "cancelled"],
  canary: ["full", "paused", "ended"],
  full: ["paused", "ended"],
  paused: ["canary", "full", "ended"],
  ended: [],
  archived: [],
  cancelled: [],
};

/** Statuses in which a release is delivered to devices. */
export const LIVE_STATUSES: readonly ReleaseStatus[] = ["canary", "full"];
/** Statuses a release can be previewed in with a test QR code (docs/preview.md). */
export const PREVIEW_STATUSES: readonly ReleaseStatus[] = ["created", "in_review", "approved"];
/** Statuses that keep a version's bytes in use (deleting the version is refused). */
export const IN_USE_STATUSES: readonly ReleaseStatus[] = ["canary", "full", "paused"];

export interface StatusState {
  status: ReleaseStatus;
  /** Where a paused release returns on continue; null unless paused. */
  pausedFrom: "canary" | "full" | null;
}

export type TransitionResult =
  | { ok: true; next: StatusState }
  | { ok: false; reason: "not_allowed" | "continue_mismatch" | "reason_required" };

/**
 * Computes the state after asking for `to`. Pure: no side effects, no clock.
 * A paused release continues only to the status it was paused from. A rejection needs a reason.
 */
export function transition(from: StatusState, to: RequestableStatus, reason: string | null): TransitionResult {
  if (!NEXT[from.status].includes(to)) return { ok: false, reason: "not_allowed" };
  if (from.status === "paused" && to !== "ended" && to !== from.pausedFrom) {
    return { ok: false, reason: "continue_mismatch" };
  }
  if (to === "rejected" && (reason === null || reason.trim() === "")) {
    return { ok: false, reason: "reason_required" };
  }
  if (to === "paused") {
    const pausedFrom = from.status === "canary" ? "canary" : "full";
    return { ok: true, next: { status: "paused", pausedFrom } };
  }
  return { ok: true, next: { status: to, pausedFrom: null } };
}

/** The statuses reachable from `status` by a caller (for error messages and the console). */
export function allowedNext(status: ReleaseStatus): readonly ReleaseStatus[] {
  return NEXT[status];
}

/** A release of one mini program on one target, as supersession sees it. */
export interface FullCandidate {
  id: string;
  seq: number;
  version: string;
  /** The version's host-app compatibility range (`*` or a semver range). */
  compat: string;
}

/**
 * What happens when `goingFull` enters full release on its target, given the mini program's other
 * `full` releases there (`archived` means "superseded by a newer full release on the same target",
 * docs/overview.md):
 * - a full release with a higher sequence is newer: an older release may not go full over it where
 *   the newer one reaches all its host apps (`refused`, for instance a paused one continuing; an
 *   older version goes out again through a new release, a rollback release to reach devices on newer
 *   versions);
 * - an older full release is archived only if the new one reaches every host app it reached: its
 *   compatibility range is a subset of the new one's (`covers`). Otherwise both stay full, and each
 *   device gets the highest version its host app is compatible with. A newer one is never archived.
 */
export function supersession(
  goingFull: FullCandidate,
  otherFull: readonly FullCandidate[],
  covers: (newRange: string, oldRange: string) => boolean,
): { refused: true; by: FullCandidate } | { refused: false; archive: string[] } {
  const newer = otherFull.find((r) => r.seq > goingFull.seq && covers(r.compat, goingFull.compat));
  if (newer !== undefined) return { refused: true, by: newer };
  const older = otherFull.filter((r) => r.seq < goingFull.seq && covers(goingFull.compat, r.compat));
  return { refused: false, archive: older.map((r) => r.id) };
}
