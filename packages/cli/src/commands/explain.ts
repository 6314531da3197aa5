// updraft explain: why a device gets (or does not get) a version (POST /v1/admin/explain).
import type { Command } from "commander";
import { usageError } from "../errors.ts";
import { formatTime } from "../output.ts";
import { collect, type Runtime } from "../runtime.ts";

interface Trace {
  releaseId: string;
  version: string;
  status: string;
  reason: string;
  targeting?: {
    decision: string;
    step: string;
    reason: string;
    failedRule?: { index: number; attribute: string; reason: string };
  };
}

interface Explanation {
  snapshotVersion: number | null;
  evaluatedAt: number;
  results: {
    id: string;
    action: string;
    reason: string;
    version?: string;
    releaseId?: string;
    updateMode?: string;
    releases: Trace[];
    preview?: string;
  }[];
}

interface ExplainOptions {
  app: string;
  env: string;
  device: string;
  miniProgram: string[];
  user?: string;
  appVersion?: string;
  platform?: string;
  osVersion?: string;
  brand?: string;
  model?: string;
  network?: string;
  language?: string;
  attribute?: string[];
  country?: string;
  region?: string;
  city?: string;
  userAgent?: string;
}

function traceLine(t: Trace): string {
  let line = `  ${t.releaseId}  ${t.version}  ${t.status}: ${t.reason}`;
  if (t.targeting !== undefined) {
    line += ` (targeting ${t.targeting.decision} at ${t.targeting.step}: ${t.targeting.reason}`;
    const rule = t.targeting.failedRule;
    if (rule !== undefined) line += `; rule ${rule.index} on ${rule.attribute}: ${rule.reason}`;
    line += ")";
  }
  return line;
}

export function registerExplain(program: Command, rt: Runtime): void {
  program
    .command("explain")
    .summary("why a device gets (or does not get) a version")
    .description("why a device gets (or does not get) a version: the decision and the trace of every live release")
    .requiredOption("--app <appKey>", "the host app's key")
    .requiredOption("--env <env>", "the environment")
    .requiredOption("--device <id>", "the device id, exactly as the device sends it")
    .requiredOption(
      "--mini-program <key[@version]>",
      "a mini program and the version the device has (none when left out); repeatable",
      collect,
    )
    .option("--user <id>", "the signed-in user id")
    .option("--app-version <version>", "the host app's version")
    .option("--platform <name>", "platform (the osName of rules)")
    .option("--os-version <version>", "OS version")
    .option("--brand <brand>", "device brand")
    .option("--model <model>", "device model")
    .option("--network <network>", "network type")
    .option("--language <tag>", "language tag")
    .option("--attribute <name=value>", "a custom attribute (repeatable)", collect)
    .option("--country <code>", "assume this country (geo rules; none when left out)")
    .option("--region <region>", "assume this region")
    .option("--city <city>", "assume this city")
    .option("--user-agent <ua>", "assume this User-Agent")
    .action(async (opts: ExplainOptions, cmd: Command) => {
      const miniPrograms = opts.miniProgram.map((spec) => {
        const at = spec.indexOf("@");
        const id = at < 0 ? spec : spec.slice(0, at);
        const version = at < 0 ? null : spec.slice(at + 1);
        if (id === "" || version === "")
          throw usageError(`--mini-program "${spec}": expected <key> or <key>@<version>`);
        return { id, version };
      });
      const attributes: Record<string, string> = {};
      for (const pair of opts.attribute ?? []) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw usageError(`--attribute "${pair}": expected <name>=<value>`);
        attributes[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const body: Record<string, unknown> = {
        appId: opts.app,
        env: opts.env,
        deviceId: opts.device,
        userId: opts.user,
        appVersion: opts.appVersion,
        platform: opts.platform,
        osVersion: opts.osVersion,
        brand: opts.brand,
        model: opts.model,
        network: opts.network,
        language: opts.language,
        miniPrograms,
      };
      if (Object.keys(attributes).length > 0) body.attributes = attributes;
      if (opts.country !== undefined || opts.region !== undefined || opts.city !== undefined) {
        body.cf = { country: opts.country, region: opts.region, city: opts.city };
      }
      if (opts.userAgent !== undefined) body.userAgent = opts.userAgent;
      const answer = await rt.api(cmd).post<Explanation>("/v1/admin/explain", body);
      rt.emit(cmd, answer, () => [
        `evaluated ${formatTime(answer.evaluatedAt)}, delivery snapshot ${answer.snapshotVersion ?? "none"}`,
        ...answer.results.flatMap((r) => [
          `${r.id}: ${r.action}${r.version === undefined ? "" : ` ${r.version}`}${r.releaseId === undefined ? "" : ` via ${r.releaseId}`}` +
            `${r.updateMode === undefined ? "" : ` (${r.updateMode})`}: ${r.reason}${r.preview === undefined ? "" : `; preview ${r.preview}`}`,
          ...(r.releases.length === 0 ? ["  (no release was evaluated)"] : r.releases.map(traceLine)),
        ]),
      ]);
    });
}
