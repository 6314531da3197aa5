// Rolling back from a bad release (docs/console.md, docs/runbook.md): not a transition but a new
// rollback release of an older version on the same target, created as `updraft release rollback`
// does — inheriting the update mode and configuration of that version's last release there.
import { AppError } from "../domain/errors";
import { compareVersions } from "../domain/semver";
import { createRelease } from "./create-release";
import type { Context, Deps, ReleaseDetails } from "./ports";
import { notFound, requirePermission } from "./support";

/** Statuses of a release still open: a version with one on the target cannot get a rollback release. */
const OPEN = new Set(["created", "in_review", "rejected", "approved", "canary", "full", "paused"]);

export interface RollbackChoice {
  version: string;
  /** The version's most recent release on the target: its update mode and configuration are copied. */
  fromReleaseId: string;
}

async function targetReleases(deps: Deps, ctx: Context, releaseId: string) {
  const bad = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (bad === null) throw notFound("The release");
  requirePermission(ctx, "mini_program:read", bad.miniProgramId);
  const all = await deps.store.listReleases(ctx.actor.workspaceId, {
    environmentId: bad.environmentId,
    miniProgramId: bad.miniProgramId,
  });
  return { bad, all };
}

/**
 * The versions a device on `releaseId`'s version could be rolled back to on its target: lower
 * versions that went out there before (full), without an open release of their own, newest first.
 */
export async function rollbackChoices(deps: Deps, ctx: Context, releaseId: string): Promise<RollbackChoice[]> {
  const { bad, all } = await targetReleases(deps, ctx, releaseId);
  return choicesAmong(bad, all);
}

function choicesAmong(bad: ReleaseDetails, all: ReleaseDetails[]): RollbackChoice[] {
  const open = new Set(all.filter((r) => OPEN.has(r.status)).map((r) => r.version));
  const choices = new Map<string, RollbackChoice>();
  // Newest first (by sequence): the first release seen of a version is the one inherited from.
  for (const r of [...all].sort((a, b) => b.seq - a.seq)) {
    if (!r.wentFull || compareVersions(r.version, bad.version) >= 0 || open.has(r.version)) continue;
    if (!choices.has(r.version)) choices.set(r.version, { version: r.version, fromReleaseId: r.id });
  }
  return [...choices.values()].sort((a, b) => compareVersions(b.version, a.version));
}

/**
 * Creates the rollback release of `version` on `releaseId`'s target (status `created`; it then goes
 * through review like any release), with the update mode and configuration of that version's last
 * release there. VALIDATION_FAILED when the version is not one of rollbackChoices.
 */
export async function createRollbackRelease(deps: Deps, ctx: Context, releaseId: string, version: string) {
  const { bad, all } = await targetReleases(deps, ctx, releaseId);
  const choice = choicesAmong(bad, all).find((c) => c.version === version);
  if (choice === undefined) {
    throw new AppError("VALIDATION_FAILED", "That version cannot be rolled back to here.", [
      {
        pointer: "/version",
        message: "Pick a lower version that went full on this target and has no open release there.",
      },
    ]);
  }
  const from = all.find((r) => r.id === choice.fromReleaseId);
  return createRelease(deps, ctx, {
    miniProgramId: bad.miniProgramId,
    version,
    appId: bad.appId,
    env: bad.env,
    updateMode: from?.updateMode ?? null,
    config: (from?.config ?? {}) as never,
    rollback: true,
  });
}
