import type { SnapshotPatch, SnapshotRelease } from "./snapshot";

/** Why a result carries a patch or only the full package (explain shows it; closed list). */
export type PatchChoice =
  | "PATCH"
  | "NO_PATCH_FORMATS"
  | "NO_INSTALLED_PACKAGE"
  | "NO_PATCH_FOR_BASE"
  | "BASE_VERSION_MISMATCH"
  | "FORMAT_NOT_DECLARED"
  | "PATCH_TOO_LARGE";

export interface PatchOffer {
  choice: PatchChoice;
  /** The patch offered (choice PATCH), or the one considered and refused, when there was one. */
  patch: SnapshotPatch | null;
}

const NONE: Record<Exclude<PatchChoice, "PATCH">, PatchOffer> = {
  NO_PATCH_FORMATS: { choice: "NO_PATCH_FORMATS", patch: null },
  NO_INSTALLED_PACKAGE: { choice: "NO_INSTALLED_PACKAGE", patch: null },
  NO_PATCH_FOR_BASE: { choice: "NO_PATCH_FOR_BASE", patch: null },
  BASE_VERSION_MISMATCH: { choice: "BASE_VERSION_MISMATCH", patch: null },
  FORMAT_NOT_DECLARED: { choice: "FORMAT_NOT_DECLARED", patch: null },
  PATCH_TOO_LARGE: { choice: "PATCH_TOO_LARGE", patch: null },
};

/**
 * Whether a device offered `release` gets a patch beside the full package: only for exactly the
 * base it reports (the installed package's sha256, of the version it says it has), in a format it
 * declared, and smaller than `maxRatio` of the package. Pure; the first declared format with a patch
 * under the bound wins.
 */
export function choosePatch(
  release: SnapshotRelease,
  installed: { version: string | null; sha256: string | null },
  formats: readonly string[],
  maxRatio: number,
): PatchOffer {
  if (formats.length === 0) return NONE.NO_PATCH_FORMATS;
  if (installed.sha256 === null || installed.version === null) return NONE.NO_INSTALLED_PACKAGE;
  const patches = release.patches;
  if (patches === undefined) return NONE.NO_PATCH_FOR_BASE;
  let seen: PatchOffer = NONE.NO_PATCH_FOR_BASE;
  for (const format of formats) {
    for (const p of patches) {
      if (p.base !== installed.sha256) continue;
      if (p.baseVersion !== installed.version) {
        seen = { choice: "BASE_VERSION_MISMATCH", patch: p };
        continue;
      }
      if (p.format !== format) {
        if (seen.choice === "NO_PATCH_FOR_BASE") seen = { choice: "FORMAT_NOT_DECLARED", patch: p };
        continue;
      }
      if (p.size >= release.package.size * maxRatio) {
        seen = { choice: "PATCH_TOO_LARGE", patch: p };
        continue;
      }
      return { choice: "PATCH", patch: p };
    }
  }
  return seen;
}
