// updraft release … and updraft rollout set: create, read, list and move releases through their
// lifecycle (POST /v1/admin/releases/{id}/transitions), roll back (a rollback release), set rollouts.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { type Api, seg } from "../api.ts";
import { CliError, describeSystemError, EXIT, localError, usageError } from "../errors.ts";
import { parseTime } from "../keyset.ts";
import { formatTime, note, table } from "../output.ts";
import { collect, type Runtime } from "../runtime.ts";

export interface Release {
  id: string;
  seq: number;
  versionId: string;
  version: string;
  appKey: string;
  appId: string;
  env: string;
  miniProgramId: string;
  miniProgramKey: string;
  status: string;
  pausedFrom: "canary" | "full" | null;
  wentFull: boolean;
  rollback: boolean;
  updateMode: string;
  config: Record<string, unknown>;
  targeting: Record<string, unknown> | null;
  reviewReason: string | null;
  submittedBy: string | null;
  timeWindow?: { admitted: number; cap: number; remaining: number } | null;
  previewTestersOnly: boolean;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  rowVersion: number;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const STATUSES = [
  "created",
  "in_review",
  "rejected",
  "approved",
  "canary",
  "full",
  "paused",
  "ended",
  "archived",
  "cancelled",
];
const UPDATE_MODES = ["sync", "async", "default"];

/** Lifecycle verbs and the status each asks for (`continue` asks for the status a release was paused from). */
const MOVES: readonly { verb: string; to: string | null; what: string }[] = [
  { verb: "submit", to: "in_review", what: "submit a created release for review" },
  { verb: "approve", to: "approved", what: "approve a release in review (reviewers; not your own submission)" },
  { verb: "reject", to: "rejected", what: "reject a release in review (needs --reason)" },
  {
    verb: "canary",
    to: "canary",
    what: "start delivering an approved (or continue a paused) release to its targeting",
  },
  { verb: "full", to: "full", what: "deliver to every compatible device; archives the older full release it covers" },
  { verb: "pause", to: "paused", what: "stop delivering a canary or full release (undo with continue)" },
  { verb: "continue", to: null, what: "resume a paused release where it was paused (canary or full)" },
  { verb: "end", to: "ended", what: "end a canary, full or paused release for good" },
  { verb: "cancel", to: "cancelled", what: "cancel a release that never went live (created, rejected or approved)" },
  { verb: "reopen", to: "created", what: "take a rejected release back to created, to edit and submit again" },
];

const describe = (r: Release) => `${r.miniProgramKey} ${r.version} on ${r.appKey}/${r.env}`;

const statusText = (r: Release) =>
  r.status === "paused" && r.pausedFrom !== null ? `paused (from ${r.pausedFrom})` : r.status;

function percentText(bp: unknown): string {
  return typeof bp === "number" ? `${bp / 100}%` : "-";
}

function rolloutText(targeting: Record<string, unknown> | null): string {
  const percentage = targeting?.percentage as
    | { basisPoints?: number; ramp?: { at: number; basisPoints: number }[] }
    | undefined;
  if (percentage === undefined) return "-";
  const ramp = percentage.ramp?.length
    ? `, ramp ${percentage.ramp.map((s) => `${formatTime(s.at)} ${percentText(s.basisPoints)}`).join(", ")}`
    : "";
  return `${percentText(percentage.basisPoints)}${ramp}`;
}

/** A release's fields for people. */
export function releaseLines(r: Release): string[] {
  const rows: string[][] = [
    ["release", `${r.id} (sequence ${r.seq})`],
    ["mini program", `${r.miniProgramKey} (${r.miniProgramId})`],
    ["version", `${r.version} (${r.versionId})`],
    ["target", `${r.appKey} / ${r.env}`],
    ["status", statusText(r)],
    ["rollback", r.rollback ? "yes" : "no"],
    ["update mode", r.updateMode],
    ["rollout", r.status === "full" ? "everyone (full release)" : rolloutText(r.targeting)],
  ];
  if (r.targeting !== null) rows.push(["targeting", JSON.stringify(r.targeting)]);
  if (r.timeWindow) rows.push(["time window", `${r.timeWindow.admitted} of ${r.timeWindow.cap} admitted`]);
  rows.push(["config", JSON.stringify(r.config)]);
  if (r.reviewReason !== null) rows.push(["review reason", r.reviewReason]);
  rows.push(["created", `${formatTime(r.createdAt)} by ${r.createdBy}`], ["updated", formatTime(r.updatedAt)]);
  return table(rows);
}

/** A JSON object given inline or as @file. */
function jsonObject(value: string, what: string, cwd: (p: string) => string): Record<string, unknown> {
  let text = value;
  if (value.startsWith("@")) {
    const file = cwd(value.slice(1));
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw localError(`cannot read ${file}: ${describeSystemError(error)}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw usageError(`${what} is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw usageError(`${what} must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/** A percentage ("20", "20%", "0.5") as basis points (100 = 1 %). */
export function basisPoints(value: string, what: string): number {
  const text = value.trim().replace(/%$/, "");
  if (!/^\d+(\.\d+)?$/.test(text)) throw usageError(`${what}: "${value}" is not a percentage such as 20 or 0.5`);
  const bp = Math.round(Number(text) * 100);
  if (Math.abs(Number(text) * 100 - bp) > 1e-6) throw usageError(`${what}: at most two decimals (basis points)`);
  if (bp > 10000) throw usageError(`${what}: at most 100%`);
  return bp;
}

function checkMode(mode: string | undefined): void {
  if (mode !== undefined && !UPDATE_MODES.includes(mode))
    throw usageError(`--update-mode must be one of ${UPDATE_MODES.join(", ")}`);
}

async function transition(api: Api, id: string, to: string, reason: string | undefined): Promise<Release> {
  return api.post<Release>(`/v1/admin/releases/${seg(id)}/transitions`, reason === undefined ? { to } : { to, reason });
}

export function registerReleases(program: Command, rt: Runtime): void {
  const release = program.command("release").description("create, inspect and move releases");

  release
    .command("create")
    .description("create a release of an uploaded version for a host app's environment (status: created)")
    .requiredOption("--mini-program <key>", "the mini program (key or id)")
    .requiredOption("--version <version>", "the uploaded version to release")
    .requiredOption("--app <appKey>", "the host app (key or id)")
    .requiredOption("--env <env>", "the environment's name")
    .option("--update-mode <mode>", "sync, async or default (default: the version's)")
    .option("--config <json>", "the release's configuration patch: JSON, or @file")
    .option("--rollback", "a rollback release: delivers a lower version than one that went full (see release rollback)")
    .option("--preview-testers-only", "test QR codes work only for the configuration's internalTesters")
    .action(
      async (
        opts: {
          miniProgram: string;
          version: string;
          app: string;
          env: string;
          updateMode?: string;
          config?: string;
          rollback?: boolean;
          previewTestersOnly?: boolean;
        },
        cmd: Command,
      ) => {
        checkMode(opts.updateMode);
        const body: Record<string, unknown> = {
          miniProgramId: opts.miniProgram,
          version: opts.version,
          appId: opts.app,
          env: opts.env,
        };
        if (opts.updateMode !== undefined) body.updateMode = opts.updateMode;
        if (opts.config !== undefined) body.config = jsonObject(opts.config, "--config", (p) => rt.path(p));
        if (opts.rollback) body.rollback = true;
        if (opts.previewTestersOnly) body.previewTestersOnly = true;
        const created = await rt.api(cmd).post<Release>("/v1/admin/releases", body);
        rt.emit(cmd, created, () => [
          `Created release ${created.id}: ${describe(created)}, sequence ${created.seq}, status ${created.status}.`,
          `Next: updraft release submit ${created.id}`,
        ]);
      },
    );

  release
    .command("show")
    .description("one release")
    .argument("<releaseId>")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const r = await rt.api(cmd).get<Release>(`/v1/admin/releases/${seg(id)}`);
      rt.emit(cmd, r, () => releaseLines(r));
    });

  release
    .command("list")
    .description("releases, newest first (filters combine)")
    .option("--app <appKey>", "host app (key or id)")
    .option("--env <env>", "environment name (with --app)")
    .option("--mini-program <key>", "mini program (key or id)")
    .option("--status <status>", `one of ${STATUSES.join(", ")}`)
    .option("--version <version>", "releases of this version")
    .option("--limit <n>", "page size, 1-500 (default 100)")
    .option("--cursor <cursor>", "the next page (nextCursor of the previous one)")
    .option("--all", "follow every page")
    .action(
      async (
        opts: {
          app?: string;
          env?: string;
          miniProgram?: string;
          status?: string;
          version?: string;
          limit?: string;
          cursor?: string;
          all?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.env !== undefined && opts.app === undefined) throw usageError("--env needs --app");
        if (opts.status !== undefined && !STATUSES.includes(opts.status)) {
          throw usageError(`--status must be one of ${STATUSES.join(", ")}`);
        }
        const api = rt.api(cmd);
        const query = {
          appId: opts.app,
          env: opts.env,
          miniProgramId: opts.miniProgram,
          status: opts.status,
          version: opts.version,
          limit: opts.limit,
        };
        const items: Release[] = [];
        let cursor = opts.cursor;
        let next: string | null;
        do {
          const page = await api.get<Page<Release>>("/v1/admin/releases", { ...query, cursor });
          items.push(...page.items);
          next = page.nextCursor;
          cursor = next ?? undefined;
        } while (opts.all && next !== null);
        rt.emit(cmd, { items, nextCursor: next }, () => [
          ...table([
            ["ID", "MINI PROGRAM", "VERSION", "TARGET", "STATUS", "SEQ", "CREATED"],
            ...items.map((r) => [
              r.id,
              r.miniProgramKey,
              `${r.version}${r.rollback ? " (rollback)" : ""}`,
              `${r.appKey}/${r.env}`,
              statusText(r),
              String(r.seq),
              formatTime(r.createdAt),
            ]),
          ]),
          ...(next === null ? [] : [`more: --cursor ${next} (or --all)`]),
        ]);
      },
    );

  for (const move of MOVES) {
    release
      .command(move.verb)
      .description(move.what)
      .argument("<releaseId>")
      .option("--reason <text>", move.verb === "reject" ? "why (required)" : "why, kept in the audit log")
      .action(async (id: string, opts: { reason?: string }, cmd: Command) => {
        if (move.verb === "reject" && (opts.reason === undefined || opts.reason.trim() === "")) {
          throw usageError("reject needs --reason <text>");
        }
        const api = rt.api(cmd);
        let to = move.to;
        if (to === null) {
          const current = await api.get<Release>(`/v1/admin/releases/${seg(id)}`);
          if (current.status !== "paused" || current.pausedFrom === null) {
            throw new CliError(
              EXIT.REFUSED,
              `error: release ${id} is ${current.status}, not paused: nothing to continue`,
            );
          }
          to = current.pausedFrom;
        }
        const moved = await transition(api, id, to, opts.reason);
        rt.emit(cmd, moved, () => `Release ${moved.id} (${describe(moved)}) is now ${statusText(moved)}.`);
      });
  }

  release
    .command("rollback")
    .summary("create a rollback release to an older version")
    .description(
      "roll devices back: create a rollback release of an older version on the same target as <releaseId> (the bad " +
        "release); it then goes through submit, approve and full (or canary) like any release",
    )
    .argument("<releaseId>", "the release whose devices should go back")
    .requiredOption("--to <version>", "the older version to deliver")
    .option("--update-mode <mode>", "sync, async or default (default: as the version was last released on the target)")
    .option(
      "--config <json>",
      "configuration patch: JSON or @file (default: as the version was last released on the target)",
    )
    .option("--no-inherit", "do not copy the update mode and configuration of the version's last release on the target")
    .action(
      async (
        id: string,
        opts: { to: string; updateMode?: string; config?: string; inherit: boolean },
        cmd: Command,
      ) => {
        checkMode(opts.updateMode);
        const api = rt.api(cmd);
        const bad = await api.get<Release>(`/v1/admin/releases/${seg(id)}`);
        const body: Record<string, unknown> = {
          miniProgramId: bad.miniProgramId,
          version: opts.to,
          appId: bad.appId,
          env: bad.env,
          rollback: true,
        };
        // A new release does not inherit how the version went out before: copy it unless told not to.
        let inheritedFrom: Release | null = null;
        if (opts.inherit && (opts.updateMode === undefined || opts.config === undefined)) {
          const earlier = await api.get<Page<Release>>("/v1/admin/releases", {
            appId: bad.appId,
            env: bad.env,
            miniProgramId: bad.miniProgramId,
            version: opts.to,
            limit: 1,
          });
          inheritedFrom = earlier.items[0] ?? null;
        }
        const updateMode = opts.updateMode ?? inheritedFrom?.updateMode;
        if (updateMode !== undefined) body.updateMode = updateMode;
        if (opts.config !== undefined) body.config = jsonObject(opts.config, "--config", (p) => rt.path(p));
        else if (inheritedFrom !== null) body.config = inheritedFrom.config;
        const created = await api.post<Release>("/v1/admin/releases", body);
        if (inheritedFrom !== null) {
          note(
            rt.io,
            `note: update mode and configuration copied from ${inheritedFrom.id} (pass --no-inherit to leave them out)`,
          );
        }
        rt.emit(cmd, created, () => [
          `Created rollback release ${created.id}: ${describe(created)}, sequence ${created.seq}, status ${created.status}.`,
          `Next: updraft release submit ${created.id}; a reviewer approves; then updraft release full ${created.id}.`,
          ...(bad.status === "paused"
            ? [`Release ${bad.id} is paused, so going full will not archive it: end it.`]
            : []),
        ]);
      },
    );

  program
    .command("rollout")
    .description("change a release's rollout percentage")
    .command("set")
    .summary("set a release's rollout percentage (and ramp)")
    .description(
      "set the percentage of devices a release reaches (and its phased ramp: the body replaces both, so a set " +
        "without --ramp removes a ramp); also while canary or paused",
    )
    .argument("<releaseId>")
    .argument("<percent>", "0-100, up to two decimals (20, 0.5, 12.25%)")
    .option(
      "--ramp <time=percent>",
      "a ramp step: from <time> (ISO 8601 or Unix ms) on, <percent> (repeatable)",
      collect,
    )
    .action(async (id: string, percent: string, opts: { ramp?: string[] }, cmd: Command) => {
      const body: { basisPoints: number; ramp?: { at: number; basisPoints: number }[] } = {
        basisPoints: basisPoints(percent, "<percent>"),
      };
      if (opts.ramp !== undefined) {
        body.ramp = opts.ramp.map((step) => {
          const eq = step.lastIndexOf("=");
          if (eq <= 0) throw usageError(`--ramp "${step}": expected <time>=<percent>`);
          return { at: parseTime(step.slice(0, eq), "--ramp"), basisPoints: basisPoints(step.slice(eq + 1), "--ramp") };
        });
      }
      const r = await rt.api(cmd).put<Release>(`/v1/admin/releases/${seg(id)}/rollout`, body);
      rt.emit(cmd, r, () => `Release ${r.id} (${describe(r)}, ${statusText(r)}): rollout ${rolloutText(r.targeting)}.`);
    });
}
