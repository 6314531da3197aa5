import type { ConfigPatch } from "../domain/config";
import { AppError } from "../domain/errors";
import { type UpdateMode, updateModeRefusal } from "../domain/update-mode";
import type { Context, Deps, MeasuredEnvironment, MiniProgramRecord } from "./ports";
import { assertDeliveryFits, publishMiniProgram } from "./publish-delivery";
import { auditEntry, notFound, refuseRemoved, requirePermission } from "./support";

export interface UpdateMiniProgramInput {
  names?: Record<string, string>;
  descriptions?: Record<string, string>;
  defaultUpdateMode?: UpdateMode;
  minUsableVersion?: string | null;
  config?: ConfigPatch;
  icon?: string | null;
  category?: string | null;
}

const EDITABLE = [
  "names",
  "descriptions",
  "icon",
  "category",
  "defaultUpdateMode",
  "minUsableVersion",
  "config",
] as const;

/**
 * Edits a mini program's information (names, descriptions in several languages), global update
 * mode, minimum usable version and global configuration: workspace admins and the mini program's
 * admins. `expectedVersion` (from If-Match or the body's rowVersion) must be the current row version
 * (else CONFLICT, nothing written). UPDATE_MODE_NOT_ALLOWED for a mode its type and origin cannot
 * carry. The configuration and minimum usable version are delivered: every environment where the
 * mini program is released is measured first (SNAPSHOT_TOO_LARGE), and republished after.
 */
export async function updateMiniProgram(
  deps: Deps,
  ctx: Context,
  miniProgramId: string,
  input: UpdateMiniProgramInput,
  expectedVersion: number | null,
) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "mini_program:write", mp.id);
  refuseRemoved(mp);
  if (expectedVersion !== null && expectedVersion !== mp.rowVersion) {
    throw new AppError("CONFLICT", "The mini program was changed since you read it; read it again and retry.");
  }
  if (input.defaultUpdateMode !== undefined) {
    const refusal = updateModeRefusal(input.defaultUpdateMode, mp.type, mp.origin);
    if (refusal !== null) {
      throw new AppError("UPDATE_MODE_NOT_ALLOWED", refusal, [{ pointer: "/defaultUpdateMode", message: refusal }]);
    }
  }
  const changes: Partial<MiniProgramRecord> = {};
  for (const field of EDITABLE) if (input[field] !== undefined) Object.assign(changes, { [field]: input[field] });
  const next: MiniProgramRecord = { ...mp, ...changes, updatedAt: deps.clock.now(), rowVersion: mp.rowVersion + 1 };
  const delivered = input.config !== undefined || input.minUsableVersion !== undefined;
  const environments = delivered ? await deps.store.environmentIdsReleasing(mp.id) : [];
  const measured: MeasuredEnvironment[] = [];
  for (const environmentId of environments) {
    const m = await assertDeliveryFits(deps, environmentId, mp.id, (source) => {
      for (const s of source.miniPrograms) {
        if (s.id === mp.id) Object.assign(s, { config: next.config, minUsableVersion: next.minUsableVersion });
      }
    });
    if (m !== null) measured.push(m);
  }
  const before = Object.fromEntries(Object.keys(changes).map((k) => [k, mp[k as keyof MiniProgramRecord]]));
  const audit = auditEntry(deps, ctx, {
    action: "mini_program.update",
    resourceType: "mini_program",
    resourceId: mp.id,
    before,
    after: changes,
  });
  if ((await deps.store.updateMiniProgram(mp, next, audit, measured)) === "conflict") {
    throw new AppError(
      "CONFLICT",
      "The mini program, or the delivery of one of its environments, was changed meanwhile; read it again and retry.",
    );
  }
  if (environments.length > 0) await publishMiniProgram(deps, mp.id, environments);
  return next;
}
