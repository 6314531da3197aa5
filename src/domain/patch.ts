// The incremental patch format is defined once, in the SDK package (the service builds patches with
// it, devices apply them with it), so the two can never disagree on a byte.

export {
  applyPatch,
  buildStream,
  checkPatch,
  createPatch,
  createPatchFromStreams,
  DEFAULT_PLAN,
  PATCH_FORMAT,
  type PatchFile,
  type PatchPlanOptions,
  type PatchSegment,
  parsePatch,
  planSegments,
} from "@updraft/sdk/patch";
export { zstdDecompress } from "@updraft/sdk/zstd-decode";
