import type { SampledDevice } from "../domain/stats/audience-reach";
import type { AudienceMonitors, ReleaseMonitors } from "../usecases/ingest-stats";
import type { StatsBucket } from "../usecases/stats-ports";
import type { AudienceMonitor } from "./audience-monitor";
import { within } from "./deadline";
import type { ReleaseMonitorBase as ReleaseMonitor } from "./release-monitor";

/** Time limit of a call to a release's monitor (ms). */
const MONITOR_TIME_LIMIT = 10_000;

/** The per-release monitors as Durable Objects, one per release id. */
export function durableObjectMonitors<M extends ReleaseMonitor>(ns: DurableObjectNamespace<M>): ReleaseMonitors {
  const monitor = (releaseId: string) => ns.get(ns.idFromName(releaseId));
  const plain = (b: StatsBucket[]): StatsBucket[] => b.map((x) => ({ at: x.at, counts: { ...x.counts } }));
  return {
    async ingest(releaseId, events, now) {
      const r = await within(
        MONITOR_TIME_LIMIT,
        "a release monitor",
        monitor(releaseId).ingest(releaseId, events, now),
      );
      return { counted: r.counted, duplicates: r.duplicates };
    },
    async offered(releaseId, messageId, count, at, devices, now) {
      await within(
        MONITOR_TIME_LIMIT,
        "a release monitor",
        monitor(releaseId).offered(releaseId, messageId, count, at, devices, now),
      );
    },
    async arm(releaseId, workspaceId, armed) {
      await within(MONITOR_TIME_LIMIT, "a release monitor", monitor(releaseId).arm(releaseId, workspaceId, armed));
    },
    async gate(releaseId) {
      const g = await within(MONITOR_TIME_LIMIT, "a release monitor", monitor(releaseId).gate());
      return g === null ? null : (JSON.parse(JSON.stringify(g)) as NonNullable<typeof g>);
    },
    async minutes(releaseId, from, to) {
      return plain(await within(MONITOR_TIME_LIMIT, "a release monitor", monitor(releaseId).minutes(from, to)));
    },
    async hours(releaseId, from, to) {
      const r = await within(MONITOR_TIME_LIMIT, "a release monitor", monitor(releaseId).hours(from, to));
      return { buckets: plain(r.buckets), devices: { ...r.devices } };
    },
  };
}

/** The per-target audience monitors as Durable Objects, named `${appKey}\n${env}`. */
export function durableObjectAudiences(ns: DurableObjectNamespace<AudienceMonitor>): AudienceMonitors {
  const monitor = (appKey: string, env: string) => ns.get(ns.idFromName(`${appKey}\n${env}`));
  return {
    async record(group, messageId, now) {
      await within(
        MONITOR_TIME_LIMIT,
        "an audience monitor",
        monitor(group.appKey, group.env).record(group, messageId, now),
      );
    },
    async sampleFor(appKey, env, miniProgram, fromDay, toDay) {
      const v = await within(
        MONITOR_TIME_LIMIT,
        "an audience monitor",
        monitor(appKey, env).sampleFor(miniProgram, fromDay, toDay),
      );
      return {
        capacity: v.capacity,
        size: v.size,
        population: v.population,
        full: v.full,
        entries: v.entries as [string, SampledDevice][],
      };
    },
    async installed(appKey, env, miniProgram, from, to) {
      const rows = await within(
        MONITOR_TIME_LIMIT,
        "an audience monitor",
        monitor(appKey, env).installed(miniProgram, from, to),
      );
      return rows.map((r) => ({ at: r.at, version: r.version, checks: r.checks, devices: r.devices }));
    },
  };
}
