import { Buffer } from "node:buffer";
import { and, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { HourlyRow, ReleaseAddress, StatsStore } from "../usecases/stats-ports";
import type { Db } from "./d1-helpers";
import * as t from "./schema";

/** Release ids per lookup: D1 binds at most 100 parameters per statement. */
const ADDRESS_IDS = 90;
/** Rows per upsert statement: D1 binds at most 100 parameters, 5 per row. */
const UPSERT_ROWS = 19;

/** Release statistics' history in D1 (docs/statistics.md); the live counts are in each release's monitor. */
export function statsMethods(db: Db): StatsStore {
  /** Where releases are delivered, for at most ADDRESS_IDS ids. */
  async function addresses(ids: readonly string[]): Promise<ReleaseAddress[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .select({
        releaseId: t.releases.id,
        workspaceId: t.miniPrograms.workspaceId,
        miniProgramId: t.releases.miniProgramId,
        appKey: t.apps.key,
        env: t.environments.name,
        miniProgram: t.miniPrograms.key,
        version: t.versions.version,
      })
      .from(t.releases)
      .innerJoin(t.apps, eq(t.apps.id, t.releases.appId))
      .innerJoin(t.environments, eq(t.environments.id, t.releases.environmentId))
      .innerJoin(t.miniPrograms, eq(t.miniPrograms.id, t.releases.miniProgramId))
      .innerJoin(t.versions, eq(t.versions.id, t.releases.versionId))
      .where(inArray(t.releases.id, [...ids]));
    return rows;
  }
  return {
    async releaseAddresses(releaseIds) {
      const out: ReleaseAddress[] = [];
      // D1 binds at most 100 parameters per statement.
      for (let i = 0; i < releaseIds.length; i += ADDRESS_IDS)
        out.push(...(await addresses(releaseIds.slice(i, i + ADDRESS_IDS))));
      return out;
    },
    async putHourlyStats(releaseId, rows) {
      const statements = [];
      for (let i = 0; i < rows.length; i += UPSERT_ROWS) {
        const values = rows.slice(i, i + UPSERT_ROWS).map((r) => ({
          releaseId,
          hour: r.hour,
          metric: r.metric,
          count: r.count,
          devices: r.devices === null ? null : Buffer.from(r.devices),
        }));
        statements.push(
          db
            .insert(t.releaseStatsHourly)
            .values(values)
            .onConflictDoUpdate({
              target: [t.releaseStatsHourly.releaseId, t.releaseStatsHourly.hour, t.releaseStatsHourly.metric],
              set: { count: sql`excluded.count`, devices: sql`excluded.devices` },
            }),
        );
      }
      const [first, ...rest] = statements;
      if (first) await db.batch([first, ...rest]);
    },
    async hourlyStats(releaseId, from, to) {
      const rows = await db
        .select()
        .from(t.releaseStatsHourly)
        .where(
          and(
            eq(t.releaseStatsHourly.releaseId, releaseId),
            gte(t.releaseStatsHourly.hour, from),
            lt(t.releaseStatsHourly.hour, to),
          ),
        )
        .orderBy(t.releaseStatsHourly.hour);
      return rows.map(
        (r): HourlyRow => ({
          hour: r.hour,
          metric: r.metric,
          count: r.count,
          devices: r.devices === null ? null : new Uint8Array(r.devices),
        }),
      );
    },
  };
}

/** The stats store alone, for the monitor (a Durable Object has the D1 binding, not the Worker's ports). */
export function d1StatsStore(d1: D1Database): StatsStore {
  return statsMethods(drizzle(d1, { schema: t }));
}
