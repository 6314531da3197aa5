import type { Decision } from "./decide";
import { coerceVersion, compareVersions, inRange, parseVersion } from "./semver";
import type { SnapshotMiniProgram } from "./snapshot";
import { effectiveUpdateMode } from "./update-mode";

/** Longest preview token a check accepts. */
export const MAX_PREVIEW_TOKEN = 256;

/** How long the links of a test QR code stay valid by default, and at most (seconds). */
export const PREVIEW_TTL = { default: 7 * 24 * 3600, min: 300, max: 30 * 24 * 3600 } as const;

/**
 * The part of a release's content hash (sha256 hex of approvalContent) that delivery and tokens
 * carry: 128 bits, enough to tell contents apart, short enough for a small QR code.
 */
export function previewHash(contentSha256Hex: string): string {
  return contentSha256Hex.slice(0, 32);
}

/** What a verified preview token says (its signature was checked by the caller). */
export interface PreviewClaims {
  codeId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** The content hash prefix the token was minted for (SnapshotPreview.hash). */
  hash: string;
}

/** Why a presented preview token was not honoured (explain shows it). */
export type PreviewRefusal =
  | "INVALID"
  | "UNKNOWN_CODE"
  | "EXPIRED"
  | "STALE"
  | "NOT_A_TESTER"
  | "INCOMPATIBLE_APP_VERSION"
  | "FAILED_ON_DEVICE"
  | "UNKNOWN_VERSION";

export interface PreviewQuery {
  appVersion: string | null;
  installed: string | null;
  failed: readonly string[];
  userId: string | null;
  /** ms since epoch. */
  now: number;
}

/**
 * What a device presenting a verified preview token gets for one mini program (step 2 of the
 * targeting order): the previewed release whatever its status and targeting, but only within its
 * compatibility range, never a version the device reported as failed, only while the token has not
 * expired and was minted for the release's current content by a code that still exists, and, when
 * the release limits preview to internal testers, only for their user ids. `claims` null: the token
 * did not verify. A refusal leaves the device to the ordinary decision.
 */
export function decidePreview(
  mp: SnapshotMiniProgram,
  claims: PreviewClaims | null,
  q: PreviewQuery,
): Decision | PreviewRefusal {
  if (claims === null) return "INVALID";
  const preview = mp.previews?.find((p) => p.codes.includes(claims.codeId));
  if (preview === undefined || mp.removed) return "UNKNOWN_CODE";
  if (claims.expiresAt * 1000 <= q.now) return "EXPIRED";
  if (claims.hash !== preview.hash) return "STALE";
  if (preview.testers !== null && (q.userId === null || !preview.testers.includes(q.userId))) return "NOT_A_TESTER";
  const release = preview.release;
  if (release.compat !== "*") {
    const app = q.appVersion === null ? null : coerceVersion(q.appVersion);
    if (app === null || !inRange(app, release.compat)) return "INCOMPATIBLE_APP_VERSION";
  }
  if (q.failed.includes(release.version)) return "FAILED_ON_DEVICE";
  const installed = q.installed === null ? null : parseVersion(q.installed);
  if (q.installed !== null && installed === null) return "UNKNOWN_VERSION";
  const direction = installed === null ? 1 : Math.sign(compareVersions(release.version, installed));
  if (direction === 0) return { action: "none", reason: "UP_TO_DATE", trace: [] };
  return {
    action: direction > 0 ? "update" : "rollback",
    release,
    updateMode: effectiveUpdateMode({
      releaseMode: release.updateMode,
      installed,
      offered: release.version,
      minUsableVersion: mp.minUsableVersion,
      syncMilestones: direction > 0 ? mp.syncMilestones : [],
    }),
    reason: "PREVIEW",
    trace: [],
  };
}
