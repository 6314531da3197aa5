// The patch format (src/patch.ts) on small generated fixtures: what the service builds (zstd from
// @bokuweb/zstd-wasm, the library the service runs, here through its Node entry) the SDK's
// pure-JavaScript decoder applies to exactly the target's files; anything else is a PatchError.
import { compressUsingDict, createCCtx, freeCCtx, init } from "@bokuweb/zstd-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { utf8Encode } from "../src/bytes.ts";
import type { ManifestFile } from "../src/canonical.ts";
import {
  applyPatch,
  buildStream,
  createPatch,
  encodePatch,
  PATCH_TAG,
  PatchError,
  type PatchFile,
  parsePatch,
  planSegments,
  safeDictStart,
  streamLength,
} from "../src/patch.ts";
import { zstdDecompress } from "../src/zstd-decode.ts";
import { rng } from "./fixtures.ts";

let cctx = 0;
const compress = (data: Uint8Array, dict: Uint8Array) => compressUsingDict(cctx, data, dict, 19);

beforeAll(async () => {
  await init();
  cctx = createCCtx();
  return () => freeCCtx(cctx);
});

const text = (s: string): Uint8Array => utf8Encode(s);
const sorted = (files: PatchFile[]) => [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
const manifestOf = (files: PatchFile[]): ManifestFile[] =>
  files.map((f) => ({ path: f.path, size: f.bytes.length, sha256: "" }));

function source(seed: number, count: number): PatchFile[] {
  const r = rng(seed);
  const words = ["page", "view", "button", "list", "cart", "order", "user", "pay", "map", "icon"];
  const out: PatchFile[] = [];
  for (let i = 0; i < count; i++) {
    let body = "";
    const lines = 20 + Math.floor(r() * 200);
    for (let l = 0; l < lines; l++)
      body += `export const ${words[Math.floor(r() * 10)]}${l} = ${Math.floor(r() * 1000)};\n`;
    out.push({ path: `pages/${words[i % 10]}/${i}.js`, bytes: text(body) });
  }
  return sorted(out);
}

/** The next version: some files edited, one renamed with a new content hash, one removed, one added. */
function nextVersion(base: PatchFile[]): PatchFile[] {
  const out = base
    .filter((_, i) => i !== 3)
    .map((f, i) =>
      i % 5 === 0 ? { path: f.path, bytes: text(`${new TextDecoder().decode(f.bytes)}// edited\n`) } : f,
    );
  const renamed = out.findIndex((f) => f.path.endsWith("/7.js"));
  if (renamed >= 0) {
    const f = out[renamed] as PatchFile;
    out[renamed] = { path: f.path.replace("/7.js", "/7.a1b2c3.js"), bytes: f.bytes };
  }
  out.push({ path: "pages/new/added.js", bytes: text("export default 'added';\n".repeat(20)) });
  return sorted(out);
}

async function roundTrip(base: PatchFile[], target: PatchFile[], options = { segmentBytes: 4096, dictBytes: 8192 }) {
  const patch = await createPatch(base, target, compress, options);
  const out = await applyPatch(patch, base, manifestOf(target), zstdDecompress);
  return { patch, out };
}

const segmentsOf = (patch: Uint8Array, base: PatchFile[], target: PatchFile[]) =>
  parsePatch(patch, streamLength(manifestOf(base)), streamLength(manifestOf(target))).segments;

describe("patch format", () => {
  it("reproduces every file of the target exactly, and is much smaller than the target", async () => {
    const base = source(7, 40);
    const target = nextVersion(base);
    const { patch, out } = await roundTrip(base, target);
    expect(out).toEqual(target);
    expect(patch.length).toBeLessThan(streamLength(manifestOf(target)) / 10);
    // Several segments, each with a dictionary range inside the base stream.
    expect(patch[0]).toBe(PATCH_TAG);
    const segments = segmentsOf(patch, base, target);
    expect(segments.length).toBeGreaterThan(3);
    const baseLength = streamLength(manifestOf(base));
    for (const s of segments) expect(s.dict[1]).toBeLessThanOrEqual(baseLength);
  });

  it("is deterministic: the same inputs give the same bytes", async () => {
    const base = source(3, 12);
    const target = nextVersion(base);
    expect((await roundTrip(base, target)).patch).toEqual((await roundTrip(base, target)).patch);
  });

  it("cuts a file larger than a segment across segments, and handles empty files and an empty base", async () => {
    const r = rng(11);
    const big = Uint8Array.from({ length: 20_000 }, () => Math.floor(r() * 16) + 65);
    const base = sorted([
      { path: "big.bin", bytes: big },
      { path: "empty.txt", bytes: new Uint8Array() },
    ]);
    const edited = Uint8Array.from(big);
    edited[10_000] = 0x7a;
    const target = sorted([
      { path: "big.bin", bytes: edited },
      { path: "empty.txt", bytes: new Uint8Array() },
      { path: "é/ünïcode.js", bytes: text("ok") },
    ]);
    const { patch, out } = await roundTrip(base, target);
    expect(out).toEqual(target);
    expect(segmentsOf(patch, base, target).length).toBeGreaterThanOrEqual(5);
    expect(patch.length).toBeLessThan(2_000);
    expect((await roundTrip([], target)).out).toEqual(target);
  });

  it("plans segments that cover the target stream exactly, in order", () => {
    const base = manifestOf(source(5, 30));
    const target = manifestOf(nextVersion(source(5, 30)));
    const plan = planSegments(base, target, { segmentBytes: 3000, dictBytes: 5000 });
    let at = 0;
    for (const s of plan) {
      expect(s.start).toBe(at);
      expect(s.end - s.start).toBeGreaterThan(0);
      expect(s.end - s.start).toBeLessThanOrEqual(3000);
      expect(s.dict[1] - s.dict[0]).toBeLessThanOrEqual(5000);
      at = s.end;
    }
    expect(at).toBe(streamLength(target));
  });

  it("never gives zstd a dictionary that starts with its dictionary magic", () => {
    const stream = Uint8Array.from([0x37, 0xa4, 0x30, 0xec, 0x37, 0xa4, 0x30, 0xec, 1, 2]);
    expect(safeDictStart(stream, 0, stream.length)).toBe(1);
    expect(safeDictStart(stream, 8, stream.length)).toBe(8);
  });

  it("spends 4 bytes on the container of a one-segment patch", async () => {
    const base = source(21, 6);
    const target = nextVersion(base);
    const patch = await createPatch(base, target, compress);
    const segments = segmentsOf(patch, base, target);
    expect(segments).toHaveLength(1);
    const frame = compressUsingDict(cctx, buildStream(target), buildStream(base), 19);
    // The tag, the count, the dictionary's start and distance from the end; the frame less its magic.
    expect(patch.length).toBe(4 + frame.length - 4);
  });

  it("refuses a patch for another base, a truncated one and one with bytes after it", async () => {
    const base = source(9, 10);
    const target = nextVersion(base);
    const patch = await createPatch(base, target, compress, { segmentBytes: 2048, dictBytes: 4096 });
    const apply = (bytes: Uint8Array, b = base) => applyPatch(bytes, b, manifestOf(target), zstdDecompress);
    expect(await apply(patch)).toEqual(target);
    // Another base: refused, or other content (which the manifest's sha256 check then refuses).
    const outcome = await apply(patch, source(10, 10)).catch((error: unknown) => error);
    if (outcome instanceof Error) expect(outcome).toBeInstanceOf(PatchError);
    else expect(outcome).not.toEqual(target);
    for (const cut of [0, 1, 2, 10, 100, patch.length - 1]) {
      await expect(apply(patch.subarray(0, cut))).rejects.toThrow(PatchError);
    }
    const longer = new Uint8Array(patch.length + 1);
    longer.set(patch);
    await expect(apply(longer)).rejects.toThrow(PatchError);
  });

  it("a flipped byte anywhere either fails to apply or still gives exactly the manifest's paths and sizes", async () => {
    // applyPatch checks structure, paths and sizes; the caller's sha256 check against the signed
    // manifest (verifyFiles) catches content that still decodes, as the SDK threat tests show.
    const base = source(13, 8);
    const target = nextVersion(base);
    const patch = await createPatch(base, target, compress, { segmentBytes: 2048, dictBytes: 4096 });
    let refused = 0;
    const shape = (files: PatchFile[]) => files.map((f) => [f.path, f.bytes.length]);
    for (let at = 0; at < patch.length; at += Math.max(1, Math.floor(patch.length / 60))) {
      const bad = Uint8Array.from(patch);
      bad[at] = (bad[at] as number) ^ 0x55;
      try {
        const out = await applyPatch(bad, base, manifestOf(target), zstdDecompress);
        // Decoded without error: still exactly the manifest's paths and sizes (the sha256 check is next).
        expect(shape(out)).toEqual(shape(target));
      } catch (error) {
        expect(error).toBeInstanceOf(PatchError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it("refuses malformed containers", () => {
    // A base stream of 100 bytes and a target stream of 50: one segment is tag, count, start, tail.
    const frame = [0x28, 0xb5, 0x2f, 0xfd];
    const ok = encodePatch([{ size: 50, dict: [0, 100], frame: 3 }], [Uint8Array.from([1, 2, 3])], 100);
    expect([...ok]).toEqual([PATCH_TAG, 1, 0, 0, 1, 2, 3]);
    expect(parsePatch(ok, 100, 50).frames.map((f) => [...f])).toEqual([[...frame, 1, 2, 3]]);
    const bad = [
      [], // empty
      [0x00, 1, 0, 0, 1], // another tag
      [PATCH_TAG, 1, 0, 0], // no frame
      [PATCH_TAG, 1, 0], // truncated table
      [PATCH_TAG, 0x81, 0x00, 0, 0, 1], // a number in a longer form than needed
      [PATCH_TAG, 1, 101, 0, 1], // dictionary past the base
      [PATCH_TAG, 1, 60, 50, 1], // dictionary that ends before it starts
      [PATCH_TAG, 2, 0, 0, 50, 1, 0, 0, 1, 1], // sizes over the target (50 + more)
      [PATCH_TAG, 2, 0, 0, 10, 9, 0, 0, 1], // a frame length past the end
      [PATCH_TAG, 0], // no segment for a target that has bytes
      [PATCH_TAG, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // a count out of range
    ];
    for (const bytes of bad)
      expect(() => parsePatch(Uint8Array.from(bytes), 100, 50), String(bytes)).toThrow(PatchError);
  });

  it("buildStream writes each record as path, NUL, bytes", () => {
    const stream = buildStream([
      { path: "a", bytes: text("xy") },
      { path: "b/c", bytes: new Uint8Array() },
    ]);
    expect([...stream]).toEqual([0x61, 0, 0x78, 0x79, 0x62, 0x2f, 0x63, 0]);
  });
});
