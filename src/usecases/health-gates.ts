// Health gates (docs/statistics.md): a canary's health policy, its verdict, and what the release's
// monitor does with it about every 30 seconds: pause, end or notify on a breach (through the same
// path as a person would, audited under the system actor `system:health-gate`), and commit the
// phased ramp's next due step only while the gate is healthy.
import { AppError } from "../domain/errors";
import { FULL_SCOPE } from "../domain/permissions";
import { dueSteps, nextStepDue, pendingSteps } from "../domain/stats/gated-ramp";
import {
  evaluateHealthGate,
  type HealthGateResult,
  type HealthPolicy,
  validateHealthPolicy,
} from "../domain/stats/health-gate";
import { attemptsAndFailures, type Counts } from "../domain/stats/release-stats";
import type { Context, Deps } from "./ports";
import { publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";
import { transitionRelease } from "./transition-release";
import { notifyWorkspace } from "./webhooks";

/** Who automatic actions are audited as. */
export const HEALTH_GATE_ACTOR = "system:health-gate";

/** The system actor of a workspace: an admin that is no member, named in the audit log. */
export function healthGateContext(workspaceId: string, requestId: string): Context {
  return {
    actor: {
      memberId: HEALTH_GATE_ACTOR,
      workspaceId,
      tokenId: HEALTH_GATE_ACTOR,
      kind: "service",
      role: "admin",
      miniProgramRoles: {},
      scope: FULL_SCOPE,
      tokenExpiresAt: null,
    },
    requestId,
  };
}

/** What a monitor keeps of its gate, and answers when asked. */
export interface GateRecord {
  workspaceId: string;
  lastActionAt: number | null;
  last: (HealthGateResult & { at: number; attempts: number; failures: number; action: string | null }) | null;
}

/** Sets (or with null removes) a release's health policy, and arms its monitor. */
export async function setHealthPolicy(deps: Deps, ctx: Context, releaseId: string, input: unknown | null) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "release:write", release.miniProgramId);
  let policy: HealthPolicy | null = null;
  if (input !== null) {
    const checked = validateHealthPolicy(input);
    if (!checked.ok) throw new AppError("VALIDATION_FAILED", "The health policy is not valid.", checked.errors);
    policy = checked.policy;
  }
  const audit = auditEntry(deps, ctx, {
    action: policy === null ? "release.health_policy_remove" : "release.health_policy_set",
    resourceType: "release",
    resourceId: release.id,
    before: { healthPolicy: release.healthPolicy ?? null },
    after: { healthPolicy: policy },
  });
  const now = deps.clock.now();
  const stored = policy === null ? null : { ...policy };
  // A gate added to a canary keeps the ramp where the clock has taken it (the steps already due stay
  // committed); a changed policy keeps what its monitor committed.
  const committed = release.healthPolicy ? (release.rampCommitted ?? 0) : dueSteps(release.targeting, now);
  if (!(await deps.store.setHealthPolicy(release, stored, committed, now, audit))) {
    throw new AppError("CONFLICT", "The release changed meanwhile; read it again and retry.");
  }
  await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
  await deps.stats.monitors.arm(release.id, ctx.actor.workspaceId, policy !== null);
  return releaseHealth(deps, ctx, release.id);
}

/** The release's gate: its policy, the last verdict and why a gated ramp holds. */
export async function releaseHealth(deps: Deps, ctx: Context, releaseId: string) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "mini_program:read", release.miniProgramId);
  const gate = release.healthPolicy ? await deps.stats.monitors.gate(release.id).catch(() => null) : null;
  const committed = release.rampCommitted ?? 0;
  const pending = release.healthPolicy ? pendingSteps(release.targeting, committed) : [];
  const last = gate?.last ?? null;
  const due = release.healthPolicy ? nextStepDue(release.targeting, committed, deps.clock.now()) : null;
  const holding =
    due === null
      ? null
      : last === null || last.verdict !== "healthy"
        ? `Holding at step ${committed} of the ramp: ${last?.reason ?? "the gate has not judged the canary yet."}`
        : null;
  return {
    releaseId: release.id,
    status: release.status,
    policy: release.healthPolicy ?? null,
    last,
    lastActionAt: gate?.lastActionAt ?? null,
    ramp: { committedSteps: committed, pendingSteps: pending, holding },
  };
}

/**
 * Judges a release's gate on the counts of its window (the monitor's alarm). Returns the verdict and
 * what was done, and `disarm` once there is nothing left to watch (no policy, or no longer a canary).
 */
export async function judgeHealth(
  deps: Deps,
  releaseId: string,
  workspaceId: string,
  windowCounts: (windowMs: number) => Counts,
  lastActionAt: number | null,
): Promise<{ disarm: boolean; record: GateRecord["last"]; actedAt: number | null }> {
  const release = await deps.store.getRelease(workspaceId, releaseId);
  if (release === null || !release.healthPolicy || release.status !== "canary") {
    return { disarm: true, record: null, actedAt: null };
  }
  const checked = validateHealthPolicy(release.healthPolicy);
  if (!checked.ok) return { disarm: true, record: null, actedAt: null };
  const policy = checked.policy;
  const now = deps.clock.now();
  const observed = attemptsAndFailures(windowCounts(policy.windowMs));
  const result = evaluateHealthGate({ policy, observed, now, lastActionAt });
  const ctx = healthGateContext(workspaceId, `gate_${releaseId}_${now}`);
  const record = { ...result, at: now, ...observed, action: null as string | null };
  if (result.verdict === "breached") {
    record.action = policy.action;
    const reason = `Health gate: ${result.reason}`;
    // The transition first: if anything after it fails, the alarm's retry finds the release no
    // longer a canary and stops, so the breach is never acted on twice.
    if (policy.action !== "notify") {
      await transitionRelease(deps, ctx, { releaseId, to: policy.action === "pause" ? "paused" : "ended", reason });
    }
    await deps.store.recordAudit(
      auditEntry(deps, ctx, {
        action: "release.health_gate_breached",
        resourceType: "release",
        resourceId: release.id,
        before: null,
        after: { action: policy.action, reason, ...observed, lowerBoundBasisPoints: result.lowerBoundBasisPoints },
      }),
    );
    await notifyWorkspace(deps, workspaceId, "release.health_gate_breached", {
      releaseId: release.id,
      miniProgramId: release.miniProgramId,
      appKey: release.appKey,
      env: release.env,
      version: release.version,
      action: policy.action,
      reason,
      attempts: observed.attempts,
      failures: observed.failures,
      lowerBoundBasisPoints: result.lowerBoundBasisPoints,
      thresholdBasisPoints: policy.failureRateBasisPoints,
    });
    return { disarm: policy.action !== "notify", record, actedAt: now };
  }
  if (result.verdict === "healthy" && nextStepDue(release.targeting, release.rampCommitted ?? 0, now) !== null) {
    const step = release.rampCommitted ?? 0;
    const audit = auditEntry(deps, ctx, {
      action: "release.ramp_step_committed",
      resourceType: "release",
      resourceId: release.id,
      before: { rampCommitted: step },
      after: { rampCommitted: step + 1, reason: `Health gate healthy: ${result.reason}` },
    });
    if (await deps.store.commitRampStep(release, now, audit)) {
      await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
      record.action = `ramp_step_${step + 1}`;
    }
  }
  return { disarm: false, record, actedAt: null };
}
