// The release monitor Durable Object as deployed: the edge class (edge/release-monitor.ts) given the
// ports it needs from the composition root, which only this level may reach (docs/architecture.md).
import { buildDeps } from "./deps";
import { type GateJudge, ReleaseMonitorBase } from "./edge/release-monitor";
import { d1StatsStore } from "./store/d1-stats";
import { judgeHealth } from "./usecases/health-gates";

export class ReleaseMonitor extends ReleaseMonitorBase {
  protected history() {
    return d1StatsStore(this.env.DB);
  }

  protected judge(): GateJudge {
    return (releaseId, workspaceId, windowCounts, lastActionAt) =>
      judgeHealth(buildDeps(this.env), releaseId, workspaceId, windowCounts, lastActionAt);
  }
}
