// The audience estimate (docs/statistics.md): how many devices seen on a release's target in a recent
// window a proposed targeting would reach, and how many more than the release reaches today, from
// the target's bottom-k sample of device profiles (edge/audience-monitor.ts).
import { AppError, type FieldError } from "../domain/errors";
import { type Audience, reachOf } from "../domain/stats/audience-reach";
import { estimateAll } from "../domain/stats/audience-sample";
import { gatedTargeting } from "../domain/stats/gated-ramp";
import { compileTargeting, type Targeting } from "../domain/targeting/evaluate";
import type { Context, Deps, ReleaseDetails } from "./ports";
import { notFound, requirePermission } from "./support";

const DAY_MS = 86_400_000;
export const MAX_WINDOW_DAYS = 30;
/** Entries of a list hashed for an estimate at most (a bigger list is refused). */
export const MAX_ESTIMATE_LIST_ENTRIES = 2_000_000;

export interface EstimateInput {
  /** A whole proposed targeting, as PUT …/targeting takes it. */
  targeting?: Record<string, unknown>;
  /** Or: today's targeting with this percentage (basis points) and no ramp. */
  percentage?: number;
  /** Or: today's targeting at this step of its ramp (0-based). */
  rampStep?: number;
  /** Devices seen over the last this many days (1 to 30, default 7). */
  windowDays?: number;
}

const invalid = (errors: FieldError[]) =>
  new AppError("VALIDATION_FAILED", "The estimate request is not valid.", errors);

/** Today's audience of the release: a canary's delivered targeting, everyone when full, nobody otherwise. */
function currentAudience(release: ReleaseDetails): Audience {
  if (release.status === "full") return { kind: "full" };
  if (release.status !== "canary" || release.targeting === null) return { kind: "none" };
  // Under a health gate, only the committed ramp steps are delivered.
  const delivered = release.healthPolicy
    ? gatedTargeting(release.targeting, release.rampCommitted ?? 0)
    : release.targeting;
  const compiled = compileTargeting(delivered);
  return compiled.ok ? { kind: "canary", targeting: compiled.targeting } : { kind: "none" };
}

function proposedTargeting(release: ReleaseDetails, input: EstimateInput): Targeting {
  let json: Record<string, unknown>;
  if (input.targeting !== undefined) json = input.targeting;
  else if (input.percentage !== undefined) {
    json = { ...(release.targeting ?? {}), percentage: { basisPoints: input.percentage } };
  } else if (input.rampStep !== undefined) {
    const ramp = (release.targeting?.percentage as { ramp?: { basisPoints: number }[] } | undefined)?.ramp;
    const step = ramp?.[input.rampStep];
    if (step === undefined)
      throw invalid([{ pointer: "/rampStep", message: "The release's targeting has no such ramp step." }]);
    json = { ...(release.targeting ?? {}), percentage: { basisPoints: step.basisPoints } };
  } else {
    throw invalid([{ pointer: "", message: "Give a targeting, a percentage or a rampStep." }]);
  }
  const compiled = compileTargeting(json);
  if (!compiled.ok) {
    const prefix = input.targeting !== undefined ? "/targeting" : "";
    throw invalid(compiled.errors.map((e) => ({ pointer: prefix + e.pointer, message: e.message })));
  }
  return compiled.targeting;
}

export async function estimateAudience(deps: Deps, ctx: Context, releaseId: string, input: EstimateInput) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "mini_program:read", release.miniProgramId);
  const hashes = deps.events.hashes;
  if (hashes === null) {
    throw new AppError("SERVICE_MISCONFIGURED", "No statistics key is configured on this deployment.");
  }
  const proposed = proposedTargeting(release, input);
  const current = currentAudience(release);
  // Lists named by either targeting, hashed like sampled devices' ids.
  const lists = new Map<string, Set<string>>();
  const refs = [...proposed.allowlists, ...proposed.denylists];
  if (current.kind === "canary") refs.push(...current.targeting.allowlists, ...current.targeting.denylists);
  for (const ref of refs) {
    if (lists.has(ref.listId)) continue;
    const list = await deps.store.getAllowlist(ctx.actor.workspaceId, ref.listId);
    const hashed = new Set<string>();
    if (list !== null && list.contentKey !== "") {
      if (list.exactCount > MAX_ESTIMATE_LIST_ENTRIES) {
        throw new AppError("VALIDATION_FAILED", "A list is too large to estimate with.", [
          { pointer: "", message: `Lists of more than ${MAX_ESTIMATE_LIST_ENTRIES} entries are not estimated.` },
        ]);
      }
      const source = (await deps.lists.getSource(list.contentKey)) ?? "";
      const hash = list.kind === "user" ? hashes.user : hashes.device;
      for (const line of source.split("\n")) if (line !== "" && !line.startsWith("re:")) hashed.add(hash(line));
    }
    lists.set(ref.listId, hashed);
  }
  const now = deps.clock.now();
  const days = input.windowDays ?? 7;
  const today = Math.floor(now / DAY_MS);
  // Only the sampled devices that asked about the mini program come back (the others reach nothing).
  const view = await deps.stats.audiences.sampleFor(
    release.appKey,
    release.env,
    release.miniProgramKey,
    today - days + 1,
    today,
  );
  const estimates = estimateAll(
    view,
    reachOf(current, null, now, lists),
    reachOf({ kind: "canary", targeting: proposed }, null, now, lists),
  );
  const { current: cur, proposed: pro, delta } = estimates;
  const round = (n: number) => Math.round(n);
  return {
    releaseId,
    window: { days, from: (today - days + 1) * DAY_MS, to: (today + 1) * DAY_MS },
    sampled: view.size,
    population: round(view.population),
    exact: !view.full,
    current: { devices: round(cur.estimate), standardError: round(cur.standardError) },
    proposed: { devices: round(pro.estimate), standardError: round(pro.standardError) },
    more: { devices: round(delta.estimate), standardError: round(delta.standardError) },
    timeWindowCap: proposed.timeWindow?.cap ?? null,
  };
}
