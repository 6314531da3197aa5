import { sameApartFromRollout } from "../domain/approval";
import { AppError, type FieldError, MAX_FIELD_ERRORS } from "../domain/errors";
import { IN_USE_STATUSES, LIVE_STATUSES, type ReleaseStatus } from "../domain/release-status";
import { listRegexCost } from "../domain/targeting/allowlist";
import { compileTargeting } from "../domain/targeting/evaluate";
import { MAX_RELEASE_REGEX_COST, rulesRegexCost } from "../domain/targeting/rules";
import type { Context, Deps, ReleaseRecord } from "./ports";
import { assertDeliveryFits, publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";

/** Largest time-window cap: the admitted set of a closed window is cached whole by every isolate. */
export const MAX_TIME_WINDOW_CAP = 100_000;

/** Statuses in which the whole targeting may change (before review binds it). */
const TARGETING_EDITABLE: readonly ReleaseStatus[] = ["created", "rejected", "approved"];
/** Statuses in which an SRE may change the percentage and ramp. */
const ROLLOUT_EDITABLE: readonly ReleaseStatus[] = ["created", "rejected", "approved", "canary", "paused"];

type Json = Record<string, unknown>;

/**
 * Validates targeting JSON (the domain compiler, then references to this workspace's lists) and
 * returns it normalized: list references by id. Errors carry JSON pointers into the body. A whole
 * new targeting (`edit`) must also keep the release's regex cost — its rules' patterns plus the
 * regex entries of the lists it refers to, each once — within MAX_RELEASE_REGEX_COST; a rollout
 * change keeps the lists and rules it has, so it is not measured again.
 */
async function validate(deps: Deps, ctx: Context, input: Json, edit: boolean): Promise<Json> {
  const compiled = compileTargeting(input);
  if (!compiled.ok) throw new AppError("VALIDATION_FAILED", "The targeting is not valid.", compiled.errors);
  const errors: FieldError[] = [];
  const normalized: Json = { ...input };
  let regexCost = rulesRegexCost(compiled.targeting.rules);
  const counted = new Set<string>();
  let overBudget = false;
  for (const field of ["allowlists", "denylists"] as const) {
    const refs = Array.isArray(input[field]) ? (input[field] as Json[]) : [];
    const out: Json[] = [];
    for (const [i, ref] of refs.entries()) {
      const list = await deps.store.getAllowlist(ctx.actor.workspaceId, String(ref.listId));
      // An unknown list (another workspace's included) is a 404 like any unknown id, with its pointer.
      if (list === null) {
        throw new AppError("NOT_FOUND", "The allowlist was not found.", [
          { pointer: `/${field}/${i}/listId`, message: "No such allowlist in this workspace." },
        ]);
      }
      if (list.kind !== ref.kind)
        errors.push({ pointer: `/${field}/${i}/kind`, message: `The list holds ${list.kind} ids.` });
      else {
        out.push({ kind: list.kind, listId: list.id });
        if (counted.has(list.id)) continue;
        counted.add(list.id);
        regexCost += listRegexCost(list.regexEntries);
        if (edit && !overBudget && regexCost > MAX_RELEASE_REGEX_COST) {
          overBudget = true;
          errors.push({
            pointer: `/${field}/${i}/listId`,
            message: `With this list's regex entries the release's rules and lists cost ${regexCost} regex units, over the limit of ${MAX_RELEASE_REGEX_COST} per release.`,
          });
        }
      }
    }
    if (input[field] !== undefined) normalized[field] = out;
  }
  const cap = compiled.targeting.timeWindow?.cap;
  if (cap !== undefined && cap > MAX_TIME_WINDOW_CAP) {
    errors.push({ pointer: "/timeWindow/cap", message: `At most ${MAX_TIME_WINDOW_CAP}.` });
  }
  // A window that is over before it is saved would admit nobody: a dead rule. (A rollout change on a
  // live release keeps the window it has, even once it has ended.)
  const endsAt = compiled.targeting.timeWindow?.endsAt;
  if (edit && endsAt !== undefined && endsAt <= deps.clock.now()) {
    errors.push({ pointer: "/timeWindow/endsAt", message: "The window has already ended." });
  }
  if (errors.length > 0) {
    throw new AppError("VALIDATION_FAILED", "The targeting is not valid.", errors.slice(0, MAX_FIELD_ERRORS));
  }
  return normalized;
}

async function save(
  deps: Deps,
  ctx: Context,
  release: ReleaseRecord,
  targeting: Json | null,
  action: string,
  reset = false,
) {
  const measured = await assertDeliveryFits(deps, release.environmentId, release.miniProgramId, (source) => {
    for (const r of source.releases) if (r.id === release.id) r.targeting = targeting;
  });
  const now = deps.clock.now();
  const audit = auditEntry(deps, ctx, {
    action,
    resourceType: "release",
    resourceId: release.id,
    before: reset ? { targeting: release.targeting, status: release.status } : release.targeting,
    after: reset ? { targeting, status: "created" } : targeting,
  });
  // Only a live release's targeting is in the snapshot: its change commits only on the environment
  // state it was measured on. A release not yet delivered leaves the snapshot alone.
  const condition = LIVE_STATUSES.includes(release.status) ? measured : null;
  if ((await deps.store.updateReleaseTargeting(release, targeting, now, audit, condition, reset)) === "conflict") {
    throw new AppError(
      "CONFLICT",
      "The release, or the delivery of its environment, was changed by someone else; read it again and retry.",
    );
  }
  await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
  const status = reset ? ("created" as const) : release.status;
  return {
    ...release,
    targeting,
    status,
    approvedHash: reset ? null : release.approvedHash,
    updatedAt: now,
    rowVersion: release.rowVersion + 1,
  };
}

async function editable(deps: Deps, ctx: Context, releaseId: string, statuses: readonly ReleaseStatus[]) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "release:write", release.miniProgramId);
  if (!statuses.includes(release.status)) {
    throw new AppError(
      "INVALID_TRANSITION",
      IN_USE_STATUSES.includes(release.status)
        ? "A live release's lists, filters and time window do not change: make a new release (only its rollout changes)."
        : `This cannot change while the release is ${release.status}.`,
    );
  }
  return release;
}

/**
 * Replaces a release's canary targeting (null clears it) before it is submitted, after a rejection,
 * or once approved until it goes out: an approved release whose lists, filters or time window change
 * goes back to `created` (its approval was of other targeting), audited. A change of the rollout
 * percentage alone keeps the approval (setReleaseRollout).
 */
export async function setReleaseTargeting(deps: Deps, ctx: Context, releaseId: string, input: Json | null) {
  const release = await editable(deps, ctx, releaseId, TARGETING_EDITABLE);
  const targeting = input === null ? null : await validate(deps, ctx, input, true);
  const reset = release.status === "approved" && !sameApartFromRollout(release.targeting, targeting);
  return save(deps, ctx, release, targeting, "release.targeting", reset);
}

/**
 * Changes only the percentage (basis points) and phased ramp of a release's targeting, also while
 * it is live: raising the percentage only adds devices. Takes effect on the next snapshot refresh.
 */
export async function setReleaseRollout(
  deps: Deps,
  ctx: Context,
  releaseId: string,
  percentage: { basisPoints: number; ramp?: { at: number; basisPoints: number }[] },
) {
  const release = await editable(deps, ctx, releaseId, ROLLOUT_EDITABLE);
  const next = await validate(deps, ctx, { ...(release.targeting ?? {}), percentage }, false);
  return save(deps, ctx, release, next, "release.rollout");
}
