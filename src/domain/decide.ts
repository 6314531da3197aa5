// Over 300 lines, and decide() over 60: the full evaluation (explain, rollbacks) and the device fast
// path (decideNewer) share their helpers and must give devices the same outcomes (an exhaustive test
// holds them together), so they stay side by side where that equivalence can be reviewed.
import { coerceVersion, compareVersions, inRange, parseVersion } from "./semver";
import type { SnapshotMiniProgram, SnapshotRelease } from "./snapshot";
import type { Admission, Targeting, TargetingResult } from "./targeting/evaluate";
import { evaluateTargeting } from "./targeting/evaluate";
import type { CompiledRule, DeviceProfile, RuleMatch } from "./targeting/rules";
import { effectiveUpdateMode, type UpdateMode } from "./update-mode";

/** What a device told us about itself and one installed mini program. */
export interface DeviceQuery {
  /** Host app version as reported (loose forms such as `8.2` are coerced); null when not sent. */
  appVersion: string | null;
  /** Installed mini program version, or null when not installed. */
  installed: string | null;
  /** Versions the device reported as failed: never offered again to it. */
  failed: readonly string[];
  /**
   * The sequence of the release the installed version came from, when the client sends it: a
   * rollback release is offered only when its sequence is above it (clients refuse older ones).
   */
  installedSequence?: number | null;
}

/**
 * Everything canary evaluation needs besides the snapshot. All of it is synchronous: list shards and
 * admissions are fetched by the caller before deciding (see `pendingAdmission`).
 */
export interface CanaryContext {
  profile: DeviceProfile;
  ids: { userId: string | null; deviceId: string };
  /** ms since epoch. */
  now: number;
  /** The release's compiled targeting; null when it has none or it no longer compiles (fails closed). */
  targetingOf(release: SnapshotRelease): Targeting | null;
  inList(listId: string, id: string): boolean;
  /** The device's bucket for this release (keyed hash of the release salt and the sticky id), or null. */
  bucketOf(release: SnapshotRelease, targeting: Targeting): number | null;
  admission(releaseId: string): Admission;
  /** Rule outcomes for `profile`, shared by the releases of this check (see EvaluationInput). */
  ruleMatches?: Map<CompiledRule | string, RuleMatch>;
}

/** Why one release does or does not apply to a device (closed list). */
export type ReleaseReason =
  | "APPLIES"
  | "INCOMPATIBLE_APP_VERSION"
  | "FAILED_ON_DEVICE"
  | "NOT_TARGETED"
  | "NO_TARGETING"
  | "NEEDS_ADMISSION"
  | "NOT_NEWER";

/** Why the device got the answer it got (closed list). */
export type DecisionReason =
  | "UPDATE_AVAILABLE"
  | "ROLLBACK"
  | "UP_TO_DATE"
  | "NO_APPLICABLE_RELEASE"
  | "UNKNOWN_MINI_PROGRAM"
  | "UNKNOWN_VERSION"
  /** A valid preview token (test QR code) decided: docs/preview.md. */
  | "PREVIEW"
  /** The mini program was removed: a device that has it is told to delete it. */
  | "REMOVED";

export interface ReleaseTrace {
  releaseId: string;
  version: string;
  status: SnapshotRelease["status"];
  reason: ReleaseReason;
  /** For canary releases that reached targeting: the step that decided and why. */
  targeting?: TargetingResult;
}

export type Decision =
  | {
      action: "update" | "rollback";
      release: SnapshotRelease;
      updateMode: UpdateMode;
      reason: DecisionReason;
      trace: ReleaseTrace[];
    }
  | { action: "removed"; reason: "REMOVED"; trace: ReleaseTrace[] }
  | {
      action: "none";
      reason: DecisionReason;
      trace: ReleaseTrace[];
      /** A canary release that would win if this device were admitted to its time window. */
      pendingAdmission?: SnapshotRelease;
    };

/** What evaluating one release yields: a reason, or the targeting result when targeting decided. */
type Verdict = Exclude<ReleaseReason, "NOT_TARGETED" | "NEEDS_ADMISSION" | "NOT_NEWER"> | TargetingResult;

/** Everything after the compatibility check (decide() checks it, sharing one answer per range). */
function evaluate(release: SnapshotRelease, q: DeviceQuery, canary: CanaryContext | null, detail = true): Verdict {
  if (q.failed.length > 0 && q.failed.includes(release.version)) return "FAILED_ON_DEVICE";
  if (release.status === "full") return "APPLIES";
  const targeting = canary?.targetingOf(release) ?? null;
  if (canary === null || targeting === null) return "NO_TARGETING";
  return evaluateTargeting(
    targeting,
    {
      profile: canary.profile,
      ids: canary.ids,
      now: canary.now,
      inList: canary.inList,
      // Hashing is only needed when the percentage step is reached.
      bucket: () => canary.bucketOf(release, targeting),
      // Only a time window looks at the admission.
      admission: targeting.timeWindow === null ? "unknown" : canary.admission(release.releaseId),
      ruleMatches: canary.ruleMatches,
    },
    detail,
  );
}

function reasonOf(v: Verdict): ReleaseReason {
  if (typeof v === "string") return v;
  return v.decision === "in" ? "APPLIES" : v.decision === "out" ? "NOT_TARGETED" : "NEEDS_ADMISSION";
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

/** -1, 0 or 1: how the offered version compares with the installed one (not installed counts as lower). */
const direction = (offered: string, installed: string | null) =>
  installed === null ? 1 : Math.sign(compareVersions(offered, installed));

/**
 * What a mini program's releases look like to the device fast path, computed once per snapshot
 * object: whether any release is a rollback, and every version's rank in semver order (equal
 * versions share a rank), so comparing two versions is comparing two integers.
 */
interface Plan {
  hasRollback: boolean;
  rank: Map<string, number>;
  /** The rank of each known version written in canonical form (what parseVersion returns for it). */
  knownRank: Map<string, number>;
  /** Rank of each of `mp.releases`, in the same order. */
  releaseRank: number[];
}

const plans = new WeakMap<SnapshotMiniProgram, Plan>();

// The commonest device answers, shared (frozen: nobody may add to their trace).
const NONE_UP_TO_DATE: Decision = Object.freeze({
  action: "none",
  reason: "UP_TO_DATE",
  trace: Object.freeze([]) as never,
});
const NONE_NOT_APPLICABLE: Decision = Object.freeze({
  action: "none",
  reason: "NO_APPLICABLE_RELEASE",
  trace: Object.freeze([]) as never,
});

function planOf(mp: SnapshotMiniProgram): Plan {
  let plan = plans.get(mp);
  if (plan === undefined) {
    const versions = [...new Set([...mp.knownVersions, ...mp.releases.map((r) => r.version)])].sort(compareVersions);
    const rank = new Map<string, number>();
    versions.forEach((v, i) => {
      const prev = versions[i - 1];
      rank.set(v, prev !== undefined && compareVersions(prev, v) === 0 ? (rank.get(prev) ?? i) : i);
    });
    const knownRank = new Map<string, number>();
    for (const v of mp.knownVersions) {
      const r = rank.get(v);
      if (r !== undefined && parseVersion(v) === v) knownRank.set(v, r);
    }
    plan = {
      hasRollback: mp.releases.some((r) => r.rollback),
      rank,
      knownRank,
      releaseRank: mp.releases.map((r) => rank.get(r.version) ?? -1),
    };
    plans.set(mp, plan);
  }
  return plan;
}

/**
 * decide() for a device answer when the mini program has no rollback release: only releases newer
 * than the installed version can be offered, so only those are evaluated, versions are compared by
 * rank, and nothing is collected. The highest applicable version wins (the first in sequence order
 * among equals, as pickWinner); a release waiting on its time-window admission is worth asking
 * about only when it is strictly higher than that.
 */
function decideNewer(
  mp: SnapshotMiniProgram,
  plan: Plan,
  installed: string | null,
  floor: number,
  q: DeviceQuery,
  canary: CanaryContext | null,
): Decision {
  const appVersion = q.appVersion === null ? null : coerceVersion(q.appVersion);
  const releases = mp.releases;
  let winner: SnapshotRelease | null = null;
  let winnerRank = -1;
  let hoped: SnapshotRelease | null = null;
  let hopedRank = -1;
  let skipped = false;
  let lastRange: string | null = null;
  let lastInRange = false;
  for (let i = 0; i < releases.length; i++) {
    const release = releases[i] as SnapshotRelease;
    const rank = plan.releaseRank[i] ?? -1;
    if (installed !== null && rank <= floor) {
      skipped = true;
      continue;
    }
    if (rank <= winnerRank) continue; // cannot beat the winner so far, whatever it says
    if (release.compat !== "*") {
      if (release.compat !== lastRange) {
        lastRange = release.compat;
        lastInRange = appVersion !== null && inRange(appVersion, release.compat);
      }
      if (!lastInRange) continue;
    }
    const reason = reasonOf(evaluate(release, q, canary, false));
    if (reason === "APPLIES") {
      winner = release;
      winnerRank = rank;
    } else if (reason === "NEEDS_ADMISSION" && rank > hopedRank) {
      hoped = release;
      hopedRank = rank;
    }
  }
  if (hoped !== null && hopedRank > winnerRank) {
    return { action: "none", reason: "NO_APPLICABLE_RELEASE", trace: [], pendingAdmission: hoped };
  }
  if (winner === null) return skipped ? NONE_UP_TO_DATE : NONE_NOT_APPLICABLE;
  return {
    action: "update",
    release: winner,
    updateMode: effectiveUpdateMode({
      releaseMode: winner.updateMode,
      installed,
      offered: winner.version,
      minUsableVersion: mp.minUsableVersion,
      syncMilestones: mp.syncMilestones,
    }),
    reason: "UPDATE_AVAILABLE",
    trace: [],
  };
}

/**
 * Decides what one device gets for one mini program, in the fixed order of docs/targeting.md (eligibility,
 * then for canary releases allow/deny lists, filters, time window, percentage). Pure and total.
 * A device is never offered a lower version than the one it has unless the winner is a rollback
 * release. When a time-window release would win if the device were admitted, the decision is
 * `none` with `pendingAdmission` set: the caller asks the admission authority and decides again.
 * `canary` null means canary releases never apply. `trace` is filled only when `explain` is true;
 * without it, a `none` for a device with nothing newer applicable reads UP_TO_DATE even where explain
 * (which also evaluates the older releases) would say NO_APPLICABLE_RELEASE.
 */
export function decide(
  mp: SnapshotMiniProgram | undefined,
  q: DeviceQuery,
  canary: CanaryContext | null = null,
  explain = false,
): Decision {
  if (mp === undefined) return { action: "none", reason: "UNKNOWN_MINI_PROGRAM", trace: [] };
  if (mp.removed) return { action: q.installed === null ? "none" : "removed", reason: "REMOVED", trace: [] };
  const plan = planOf(mp);
  if (!explain && !plan.hasRollback) {
    // A known version sent in canonical form (the usual case) needs no parsing: look its rank up.
    const known = q.installed === null ? -1 : plan.knownRank.get(q.installed);
    if (known !== undefined) return decideNewer(mp, plan, q.installed, known, q, canary);
  }
  const installed = q.installed === null ? null : parseVersion(q.installed);
  if (q.installed !== null && (installed === null || !mp.knownVersions.includes(installed))) {
    return { action: "none", reason: "UNKNOWN_VERSION", trace: [] };
  }
  if (!explain && !plan.hasRollback) {
    return decideNewer(mp, plan, installed, installed === null ? -1 : (plan.rank.get(installed) ?? -1), q, canary);
  }
  const appVersion = q.appVersion === null ? null : coerceVersion(q.appVersion);
  // Explain, or a mini program with a rollback release: every release is evaluated. The trace is
  // built only for explain.
  const trace: ReleaseTrace[] = [];
  const applicable: SnapshotRelease[] = [];
  const pending: SnapshotRelease[] = [];
  // Releases of a mini program nearly always share one compatibility range: test it once.
  let lastRange: string | null = null;
  let lastInRange = false;
  for (const release of mp.releases) {
    let compatible = true;
    if (release.compat !== "*") {
      if (release.compat !== lastRange) {
        lastRange = release.compat;
        lastInRange = appVersion !== null && inRange(appVersion, release.compat);
      }
      compatible = lastInRange;
    }
    const verdict = compatible ? evaluate(release, q, canary) : "INCOMPATIBLE_APP_VERSION";
    const reason = reasonOf(verdict);
    if (reason === "APPLIES") applicable.push(release);
    else if (reason === "NEEDS_ADMISSION") pending.push(release);
    if (explain) {
      const { releaseId, version, status } = release;
      trace.push(
        typeof verdict === "string"
          ? { releaseId, version, status, reason }
          : { releaseId, version, status, reason, targeting: verdict },
      );
    }
  }
  const winner = pickWinner(applicable);
  if (pending.length > 0) {
    const hoped = pickWinner([...applicable, ...pending]);
    if (hoped !== null && hoped !== winner && pending.includes(hoped)) {
      const d = direction(hoped.version, installed);
      if (d > 0 || (d < 0 && hoped.rollback)) {
        return { action: "none", reason: "NO_APPLICABLE_RELEASE", trace, pendingAdmission: hoped };
      }
    }
  }
  if (winner === null) return { action: "none", reason: "NO_APPLICABLE_RELEASE", trace };
  const cmp = direction(winner.version, installed);
  if (cmp === 0) return { action: "none", reason: "UP_TO_DATE", trace };
  // A lower version only through a rollback released after what the device has (when it says).
  const installedSequence = q.installedSequence ?? null;
  if (cmp < 0 && (!winner.rollback || (installedSequence !== null && winner.seq <= installedSequence))) {
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
