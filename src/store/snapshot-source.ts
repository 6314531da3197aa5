import { createHash } from "node:crypto";
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { approvalContent } from "../domain/approval";
import type { SnapshotSource } from "../domain/compile-snapshot";
import type { ConfigPatch } from "../domain/config";
import type { RegexSummary } from "../domain/delivery";
import { LIVE_STATUSES, PREVIEW_STATUSES } from "../domain/release-status";
import { gatedTargeting } from "../domain/stats/gated-ramp";
import * as t from "./schema";

/**
 * Reads everything the snapshot of one (app, environment) is compiled from, in one D1 batch (one
 * transaction), so the reads see one consistent state stamped with the target's snapshot version.
 * Only mini programs with a release on the target are included, and of those only `miniProgramIds`
 * when given (passed as one JSON parameter: D1 binds at most 100 per statement).
 */
export async function snapshotSource(
  db: DrizzleD1Database<typeof t>,
  environmentId: string,
  builtAt: number,
  miniProgramIds?: readonly string[],
): Promise<SnapshotSource | null> {
  return (await readSource(db, environmentId, builtAt, miniProgramIds, null))?.source ?? null;
}

/**
 * The state of one mini program on the environment (none: only the lists) and the regex summary of
 * the rest of the target (regexSummary), from one consistent read: what the bounds measure.
 */
export async function measureSource(
  db: DrizzleD1Database<typeof t>,
  environmentId: string,
  builtAt: number,
  miniProgramId: string | null,
): Promise<{ source: SnapshotSource; others: RegexSummary } | null> {
  const read = await readSource(db, environmentId, builtAt, miniProgramId === null ? [] : [miniProgramId], {
    except: miniProgramId,
  });
  return read === null ? null : { source: read.source, others: read.others };
}

async function readSource(
  db: DrizzleD1Database<typeof t>,
  environmentId: string,
  builtAt: number,
  miniProgramIds: readonly string[] | undefined,
  regex: { except: string | null } | null,
): Promise<{ source: SnapshotSource; others: RegexSummary } | null> {
  const onTarget: SQL = eq(t.releases.environmentId, environmentId);
  const ofTheseMiniPrograms = (column: typeof t.releases.miniProgramId) =>
    sql`${column} in (select value from json_each(${JSON.stringify(miniProgramIds ?? [])}))`;
  const releasesWhere = miniProgramIds
    ? (and(onTarget, ofTheseMiniPrograms(t.releases.miniProgramId)) as SQL)
    : onTarget;
  const released = db.selectDistinct({ id: t.releases.miniProgramId }).from(t.releases).where(releasesWhere);
  // No joins inside the batch: D1 batch rows come back as objects, so same-named columns of joined
  // tables would collide. The app is selected through a subquery instead.
  const appOfEnv = db
    .select({ id: t.environments.appId })
    .from(t.environments)
    .where(eq(t.environments.id, environmentId));
  const [ruleQuery, listQuery] = regexQueries(db, environmentId, regex?.except ?? null, regex !== null);
  const [envRows, appRows, releaseRows, mps, versions, lists, ruleRows, listRows, codeRows, featureRows, patchRows] =
    await db.batch([
      db.select().from(t.environments).where(eq(t.environments.id, environmentId)),
      db.select().from(t.apps).where(inArray(t.apps.id, appOfEnv)),
      db.select().from(t.releases).where(releasesWhere),
      db.select().from(t.miniPrograms).where(inArray(t.miniPrograms.id, released)),
      db.select().from(t.versions).where(inArray(t.versions.miniProgramId, released)),
      db
        .select()
        .from(t.allowlists)
        .where(
          inArray(
            t.allowlists.workspaceId,
            db.select({ id: t.apps.workspaceId }).from(t.apps).where(inArray(t.apps.id, appOfEnv)),
          ),
        ),
      ruleQuery,
      listQuery,
      db
        .select({ id: t.qrCodes.id, releaseId: t.qrCodes.releaseId })
        .from(t.qrCodes)
        .where(inArray(t.qrCodes.releaseId, db.select({ id: t.releases.id }).from(t.releases).where(releasesWhere))),
      db
        .select({ miniProgramId: t.miniProgramFeatures.miniProgramId, name: t.features.name })
        .from(t.miniProgramFeatures)
        .innerJoin(t.features, eq(t.features.id, t.miniProgramFeatures.featureId))
        .where(inArray(t.miniProgramFeatures.miniProgramId, released)),
      db
        .select({
          baseVersionId: t.patches.baseVersionId,
          targetVersionId: t.patches.targetVersionId,
          format: t.patches.format,
          sha256: t.patches.sha256,
          size: t.patches.size,
        })
        .from(t.patches)
        .where(
          and(
            eq(t.patches.status, "ready"),
            inArray(
              t.patches.targetVersionId,
              db
                .select({ id: t.releases.versionId })
                .from(t.releases)
                .where(and(releasesWhere, inArray(t.releases.status, [...LIVE_STATUSES]))),
            ),
          ),
        ),
    ]);
  const featuresOf = new Map<string, string[]>();
  for (const f of featureRows) featuresOf.set(f.miniProgramId, [...(featuresOf.get(f.miniProgramId) ?? []), f.name]);
  const env = envRows[0];
  const app = appRows[0];
  if (!env || !app) return null;
  const others = regexSummaryOf(ruleRows, listRows);
  const source: SnapshotSource = {
    appKey: app.key,
    env: env.name,
    version: env.snapshotVersion,
    builtAt,
    miniPrograms: mps.map((mp) => ({
      id: mp.id,
      key: mp.key,
      type: mp.type,
      origin: mp.origin,
      minUsableVersion: mp.minUsableVersion,
      config: mp.config as ConfigPatch,
      removed: mp.removedAt !== null,
      features: (featuresOf.get(mp.id) ?? []).sort(),
    })),
    versions: versions.map((v) => ({
      id: v.id,
      miniProgramId: v.miniProgramId,
      version: v.version,
      sha256: v.sha256,
      size: v.size,
      manifestSha256: v.manifestSha256,
      compat: v.compat,
      publisherSignature: v.publisherSignature,
      publisherKeyId: v.publisherKeyId,
      deleted: v.deletedAt !== null,
    })),
    releases: releaseRows.map((r) => ({
      id: r.id,
      versionId: r.versionId,
      seq: r.seq,
      status: r.status,
      wentFull: r.wentFull,
      rollback: r.rollback,
      updateMode: r.updateMode,
      config: r.config as ConfigPatch,
      // Under a health gate, a ramp's steps take effect only once committed (domain/stats/gated-ramp.ts).
      targeting: r.healthPolicy === null ? r.targeting : gatedTargeting(r.targeting, r.rampCommitted),
      previewTestersOnly: r.previewTestersOnly,
      // Only what a test QR code can preview needs it (hashing is synchronous here: node:crypto).
      ...(PREVIEW_STATUSES.includes(r.status) ? { contentHash: contentHashOf(r) } : {}),
    })),
    lists: lists.map((l) => ({
      id: l.id,
      version: l.contentVersion,
      kind: l.kind,
      contentKey: l.contentKey,
      shardCount: l.shardCount,
      regexEntries: l.regexEntries,
    })),
    qrCodes: codeRows,
    patches: patchRows.flatMap((p) =>
      p.sha256 === null || p.size === null ? [] : [{ ...p, sha256: p.sha256, size: p.size }],
    ),
  };
  return { source, others };
}

/** sha256 hex of the release's approvalContent: what approvals and preview tokens are bound to. */
function contentHashOf(r: typeof t.releases.$inferSelect): string {
  return createHash("sha256").update(approvalContent(r)).digest("hex");
}

/**
 * The distinct regex rules (as stored JSON) and the list ids of the target's canary releases, except
 * those of one mini program: what the per-check regex budget needs of the rest of the target,
 * computed by SQLite without sending every targeting over. `wanted` false: queries that read nothing.
 */
function regexQueries(db: DrizzleD1Database<typeof t>, environmentId: string, except: string | null, wanted: boolean) {
  const canaries = sql`${wanted ? 1 : 0} and r.environment_id = ${environmentId} and r.status = 'canary' and r.targeting is not null and r.mini_program_id is not ${except}`;
  // Through the query builder (drizzle cannot batch raw statements with parameters).
  const from = (path: string) => sql`releases r, json_each(r.targeting, ${path}) j`;
  return [
    db
      .selectDistinct({ rule: sql<string>`j.value`.as("rule") })
      .from(from("$.rules"))
      .where(sql`${canaries} and json_extract(j.value, '$.operator') = 'regex'`),
    db
      .selectDistinct({ id: sql<string>`json_extract(j.value, '$.listId')`.as("id") })
      .from(sql`releases r, json_each(r.targeting) t, json_each(t.value) j`)
      .where(sql`${canaries} and t.key in ('allowlists', 'denylists')`),
  ] as const;
}

function regexSummaryOf(rules: { rule: string }[], lists: { id: string }[]): RegexSummary {
  return {
    rules: rules.map((r) => JSON.parse(r.rule) as unknown),
    listIds: lists.map((l) => l.id).filter((id) => typeof id === "string"),
  };
}

/** The targets of the workspace where a canary release refers to the list, in one query. */
export async function targetsUsingList(
  db: DrizzleD1Database<typeof t>,
  workspaceId: string,
  listId: string,
): Promise<{ appKey: string; env: string }[]> {
  return db.all<{ appKey: string; env: string }>(
    sql`select distinct a.key as appKey, e.name as env from releases r join apps a on a.id = r.app_id join environments e on e.id = r.environment_id
        where a.workspace_id = ${workspaceId} and r.status = 'canary' and r.targeting is not null and exists (
          select 1 from json_each(r.targeting) t, json_each(t.value) j
          where t.key in ('allowlists', 'denylists') and json_extract(j.value, '$.listId') = ${listId})`,
  );
}
