import type { ReleaseMonitors } from "../usecases/ingest-stats";
import type { StatsBucket } from "../usecases/stats-ports";
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
    async minutes(releaseId, from, to) {
      return plain(await within(MONITOR_TIME_LIMIT, "a release monitor", monitor(releaseId).minutes(from, to)));
    },
    async hours(releaseId, from, to) {
      const r = await within(MONITOR_TIME_LIMIT, "a release monitor", monitor(releaseId).hours(from, to));
      return { buckets: plain(r.buckets), devices: { ...r.devices } };
    },
  };
}
