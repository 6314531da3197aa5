import { compareVersions } from "./semver";

export const UPDATE_MODES = ["sync", "async", "default"] as const;
export type UpdateMode = (typeof UPDATE_MODES)[number];

export const MINI_PROGRAM_TYPES = ["dsl", "h5"] as const;
export type MiniProgramType = (typeof MINI_PROGRAM_TYPES)[number];

export const MINI_PROGRAM_ORIGINS = ["workspace", "external"] as const;
export type MiniProgramOrigin = (typeof MINI_PROGRAM_ORIGINS)[number];

/**
 * The update mode a release may carry: only `dsl` mini programs of origin `workspace` choose;
 * every other mini program keeps `default` (docs/overview.md, "Update modes").
 */
export function allowedUpdateMode(requested: UpdateMode, type: MiniProgramType, origin: MiniProgramOrigin): UpdateMode {
  return type === "dsl" && origin === "workspace" ? requested : "default";
}

/**
 * Why `requested` cannot be set on a mini program of this type and origin (null: it can). Only
 * `dsl` mini programs of origin `workspace` choose a mode other than `default`.
 */
export function updateModeRefusal(
  requested: UpdateMode,
  type: MiniProgramType,
  origin: MiniProgramOrigin,
): string | null {
  if (requested === "default" || allowedUpdateMode(requested, type, origin) === requested) return null;
  return type !== "dsl"
    ? "Only dsl mini programs choose an update mode; this one keeps default."
    : "Mini programs of origin external keep the default update mode.";
}

/**
 * The mode delivered for moving a device from `installed` to `offered`:
 * `sync` when the device is below the mini program's minimum usable version, or when any
 * sync milestone lies in (installed, offered]; otherwise the release's own mode.
 * `installed` null means "not installed": milestones then do not apply.
 */
export function effectiveUpdateMode(input: {
  releaseMode: UpdateMode;
  installed: string | null;
  offered: string;
  minUsableVersion: string | null;
  syncMilestones: readonly string[];
}): UpdateMode {
  const { installed, offered } = input;
  if (installed === null) return input.releaseMode;
  if (input.minUsableVersion !== null && compareVersions(installed, input.minUsableVersion) < 0) return "sync";
  for (const milestone of input.syncMilestones) {
    if (compareVersions(milestone, installed) > 0 && compareVersions(milestone, offered) <= 0) return "sync";
  }
  return input.releaseMode;
}
