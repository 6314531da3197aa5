// The console's overview (docs/console.md): what is live where — per app and environment, each mini
// program's live releases (full, canary with its percentage and ramp step, paused) and the health of
// gated canaries. Only what the actor may see.
import { dueSteps } from "../domain/stats/gated-ramp";
import { listApps } from "./list-apps";
import { listReleases } from "./list-releases";
import type { Context, Deps } from "./ports";

export interface LiveRelease {
  id: string;
  version: string;
  status: "full" | "canary" | "paused";
  /** A canary's percentage now, in basis points (the delivered ramp step under a gate); null: none. */
  basisPoints: number | null;
  /** Ramp steps in effect / in the schedule; null without a ramp. */
  ramp: { step: number; of: number } | null;
  gated: boolean;
  /** A gated canary's last verdict (healthy, breached, …); null: not judged yet, or not read. */
  health: string | null;
}

export interface OverviewTarget {
  appKey: string;
  appName: string;
  env: string;
  miniPrograms: { key: string; id: string; releases: LiveRelease[] }[];
}

const LIVE = new Set(["full", "canary", "paused"]);
/** Gated releases whose monitor the overview asks for the last verdict (one Durable Object call each). */
const HEALTH_READS = 100;

export async function consoleOverview(deps: Deps, ctx: Context): Promise<OverviewTarget[]> {
  // Only live releases are read (one query per live status), not the workspace's whole history.
  const [apps, ...live] = await Promise.all([
    listApps(deps, ctx),
    ...[...LIVE].map((status) => listReleases(deps, ctx, { status: status as "full" | "canary" | "paused" })),
  ]);
  const releases = live.flat();
  const now = deps.clock.now();
  const targets: OverviewTarget[] = [];
  for (const app of apps) {
    for (const env of app.environments) {
      const here = releases.filter((r) => r.appId === app.id && r.environmentId === env.id);
      const byMp = new Map<string, { key: string; id: string; releases: LiveRelease[] }>();
      for (const r of here) {
        const entry = byMp.get(r.miniProgramId) ?? { key: r.miniProgramKey, id: r.miniProgramId, releases: [] };
        entry.releases.push(liveRelease(r, now));
        byMp.set(r.miniProgramId, entry);
      }
      targets.push({
        appKey: app.key,
        appName: app.name,
        env: env.name,
        miniPrograms: [...byMp.values()].sort((a, b) => a.key.localeCompare(b.key)),
      });
    }
  }
  // The gates' last verdicts, read in parallel from the releases' monitors (a failed read shows none).
  const gated = targets
    .flatMap((t) => t.miniPrograms.flatMap((m) => m.releases))
    .filter((r) => r.gated && r.status !== "full")
    .slice(0, HEALTH_READS);
  await Promise.all(
    gated.map(async (r) => {
      const gate = await deps.stats.monitors.gate(r.id).catch(() => null);
      r.health = gate?.last?.verdict ?? null;
    }),
  );
  return targets;
}

function liveRelease(
  r: {
    id: string;
    version: string;
    status: string;
    targeting: Record<string, unknown> | null;
    healthPolicy?: Record<string, unknown> | null;
    rampCommitted?: number;
  },
  now: number,
): LiveRelease {
  const p = r.targeting?.percentage as
    | { basisPoints?: number; ramp?: { at: number; basisPoints: number }[] }
    | undefined;
  const gated = Boolean(r.healthPolicy);
  const ramp = Array.isArray(p?.ramp) ? p.ramp : null;
  const step = ramp === null ? 0 : gated ? Math.min(r.rampCommitted ?? 0, ramp.length) : dueSteps(r.targeting, now);
  const basisPoints =
    p?.basisPoints === undefined
      ? null
      : ramp !== null && step > 0
        ? (ramp[step - 1]?.basisPoints ?? null)
        : p.basisPoints;
  return {
    id: r.id,
    version: r.version,
    status: r.status as LiveRelease["status"],
    basisPoints: r.status === "full" ? null : basisPoints,
    ramp: ramp === null ? null : { step, of: ramp.length },
    gated,
    health: null,
  };
}
