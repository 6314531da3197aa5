import { AppError } from "../domain/errors";
import { visibleMiniPrograms } from "../domain/permissions";
import type { ReleaseStatus } from "../domain/release-status";
import type { Context, Deps } from "./ports";
import { notFound, requirePermission } from "./support";

export interface ListReleasesInput {
  appId?: string;
  env?: string;
  miniProgramId?: string;
  status?: ReleaseStatus;
  version?: string;
}

/**
 * Releases of the workspace, newest first, filtered by app, environment, mini program and status;
 * only those of the mini programs the actor may see.
 */
export async function listReleases(deps: Deps, ctx: Context, input: ListReleasesInput) {
  requirePermission(ctx, "workspace:read");
  const filter: {
    appId?: string;
    environmentId?: string;
    miniProgramId?: string;
    status?: ReleaseStatus;
    version?: string;
  } = {};
  // Environment names belong to an app: a filter by name alone would silently match nothing (or all).
  if (input.env !== undefined && input.appId === undefined) {
    throw new AppError("VALIDATION_FAILED", "The query is not valid.", [
      { pointer: "/env", message: "Filtering by environment needs appId." },
    ]);
  }
  if (input.appId !== undefined) {
    const app = await deps.store.getApp(ctx.actor.workspaceId, input.appId);
    if (app === null) throw notFound("The app");
    filter.appId = app.id;
    if (input.env !== undefined) {
      const env = await deps.store.getEnvironment(app.id, input.env);
      if (env === null) throw notFound("The environment");
      filter.environmentId = env.id;
    }
  }
  if (input.miniProgramId !== undefined) {
    const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, input.miniProgramId);
    if (mp === null) throw notFound("The mini program");
    requirePermission(ctx, "mini_program:read", mp.id);
    filter.miniProgramId = mp.id;
  }
  if (input.status !== undefined) filter.status = input.status;
  if (input.version !== undefined) filter.version = input.version;
  const releases = await deps.store.listReleases(ctx.actor.workspaceId, filter);
  const visible = visibleMiniPrograms(ctx.actor);
  return visible === "all" ? releases : releases.filter((r) => visible.includes(r.miniProgramId));
}

/**
 * One release. A release with a time window also shows how many devices the window admitted and how
 * many places remain, from its admission authority (null when it cannot be asked right now).
 */
export async function getRelease(deps: Deps, ctx: Context, releaseId: string) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "mini_program:read", release.miniProgramId);
  return withAdmissions(deps, release);
}

/**
 * The release with `timeWindow: { admitted, cap, remaining }` when its targeting has a time window,
 * asked of its admission authority (null when that cannot be asked right now); unchanged otherwise.
 * Lists call it for the releases of one page only.
 */
export async function withAdmissions<T extends { id: string; targeting: Record<string, unknown> | null }>(
  deps: Deps,
  release: T,
) {
  const window = release.targeting?.timeWindow as { cap?: unknown } | undefined;
  if (window === undefined || typeof window.cap !== "number" || deps.admissions.count === undefined) return release;
  const counted = await deps.admissions.count(release.id).catch(() => null);
  if (counted === null) return { ...release, timeWindow: null };
  const cap = counted.cap ?? window.cap;
  return {
    ...release,
    timeWindow: { admitted: counted.admitted, cap, remaining: Math.max(0, cap - counted.admitted) },
  };
}
