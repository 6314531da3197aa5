import { coerceVersion, compareVersions, inRange, parseVersion } from "./semver";
import type { SnapshotMiniProgram, SnapshotRelease } from "./snapshot";
import { effectiveUpdateMode, type UpdateMode } from "./update-mode";

/** What a device told us about itself and one installed mini program. */
export interface DeviceQuery {
  /** Host app version as reported (loose forms such as `8.2` are coerced); null when not sent. */
  appVersion: string | null;
  /** Installed mini program version, or null when not installed. */
  installed: string | null;
  /** Versions the device reported as failed: never offered again to it. */
  failed: readonly string[];
}

/** Why one release does or does not apply to a device (closed list). */
export type ReleaseReason = "APPLIES" | "INCOMPATIBLE_APP_VERSION" | "FAILED_ON_DEVICE" | "NOT_NEWER";

/** Why the device got the answer it got (closed list). */
export type DecisionReason =
  | "UPDATE_AVAILABLE"
  | "ROLLBACK"
  | "UP_TO_DATE"
  | "NO_APPLICABLE_RELEASE"
  | "UNKNOWN_MINI_PROGRAM"
  | "UNKNOWN_VERSION";

export interface ReleaseTrace {
  releaseId: string;
  version: string;
  reason: ReleaseReason;
}

export type Decision =
  | {
      action: "update" | "rollback";
      release: SnapshotRelease;
      updateMode: UpdateMode;
      reason: DecisionReason;
      trace: ReleaseTrace[];
    }
  | { action: "none"; reason: DecisionReason; trace: ReleaseTrace[] };

function releaseReason(release: SnapshotRelease, appVersion: string | null, q: DeviceQuery): ReleaseReason {
  if (release.compat !== "*" && (appVersion === null || !inRange(appVersion, release.compat))) {
    return "INCOMPATIBLE_APP_VERSION";
  }
  if (q.failed.includes(release.version)) return "FAILED_ON_DEVICE";
  return "APPLIES";
}

/**
 * Picks among applicable releases: the highest version wins, unless a rollback release is newer
 * (by per-target sequence) than it, in which case the newest such rollback wins.
 * `releases` must be ordered newest sequence first.
 */
function pickWinner(applicable: SnapshotRelease[]): SnapshotRelease | null {
  let best: SnapshotRelease | null = null;
  for (const r of applicable) {
    if (best === null || compareVersions(r.version, best.version) > 0) best = r;
  }
  const rollback = applicable.find((r) => r.rollback);
  if (best !== null && rollback !== undefined && rollback.seq > best.seq) return rollback;
  return best;
}

/**
 * Decides what one device gets for one mini program. Pure and total: every input, however odd,
 * yields a decision with a reason. A device is never offered a lower version than the one it has
 * unless the winning release is a rollback release.
 */
export function decide(mp: SnapshotMiniProgram | undefined, q: DeviceQuery): Decision {
  if (mp === undefined) return { action: "none", reason: "UNKNOWN_MINI_PROGRAM", trace: [] };
  const installed = q.installed === null ? null : parseVersion(q.installed);
  if (q.installed !== null && (installed === null || !mp.knownVersions.includes(installed))) {
    return { action: "none", reason: "UNKNOWN_VERSION", trace: [] };
  }
  const appVersion = q.appVersion === null ? null : coerceVersion(q.appVersion);
  const trace: ReleaseTrace[] = [];
  const applicable: SnapshotRelease[] = [];
  for (const release of mp.releases) {
    const reason = releaseReason(release, appVersion, q);
    trace.push({ releaseId: release.releaseId, version: release.version, reason });
    if (reason === "APPLIES") applicable.push(release);
  }
  const winner = pickWinner(applicable);
  if (winner === null) return { action: "none", reason: "NO_APPLICABLE_RELEASE", trace };
  const cmp = installed === null ? 1 : compareVersions(winner.version, installed);
  if (cmp === 0) return { action: "none", reason: "UP_TO_DATE", trace };
  if (cmp < 0 && !winner.rollback) {
    for (const t of trace) if (t.releaseId === winner.releaseId) t.reason = "NOT_NEWER";
    return { action: "none", reason: "UP_TO_DATE", trace };
  }
  const updateMode = effectiveUpdateMode({
    releaseMode: winner.updateMode,
    installed,
    offered: winner.version,
    minUsableVersion: mp.minUsableVersion,
    syncMilestones: cmp < 0 ? [] : mp.syncMilestones,
  });
  const action = cmp < 0 ? "rollback" : "update";
  return {
    action,
    release: winner,
    updateMode,
    reason: action === "rollback" ? "ROLLBACK" : "UPDATE_AVAILABLE",
    trace,
  };
}
