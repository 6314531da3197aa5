import type { UpdateMode } from "./answer.ts";

/** What the host app does with an update when the user opens the mini program. */
export type UpdateTiming = "sync" | "async";

/** What the policy knows about the device. */
export interface UpdateModeContext {
  /** Whether a version of the mini program is installed (by the SDK or bundled with the app). */
  installed: boolean;
}

/** The host app's own choice for `default` results. */
export type HostUpdatePolicy = (context: UpdateModeContext) => UpdateTiming;

/** The policy used for `default` when the host app gives none: sync when nothing is installed, else async. */
export const defaultHostPolicy: HostUpdatePolicy = ({ installed }) => (installed ? "async" : "sync");

/**
 * When to install an update, following the result's `updateMode` (docs/protocol.md §1.2). Pure.
 *
 * - `"sync"`: install before opening the mini program (open the installed version only if the
 *   install fails).
 * - `"async"`: open the installed version and install in the background; the new version is used at
 *   the next launch. With nothing installed there is nothing to open, so this is `"sync"` too.
 * - `"default"`: the host app's policy, `hostPolicy` ({@link defaultHostPolicy} when absent: sync
 *   when nothing is installed, else async).
 *
 * @returns `"sync"` (install, then open) or `"async"` (open now, install for next launch).
 */
export function updateModePolicy(
  mode: UpdateMode,
  context: UpdateModeContext,
  hostPolicy: HostUpdatePolicy = defaultHostPolicy,
): UpdateTiming {
  if (mode === "sync" || !context.installed) return "sync";
  if (mode === "async") return "async";
  return hostPolicy(context);
}
