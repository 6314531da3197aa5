// The patch benchmark's Worker (`npm run bench:delta`, never deployed): its queue() handler builds one
// incremental patch per message the way the real Queue job does (src/usecases/patches.ts buildPatch):
// both zips read from R2, unpacked with fflateReader.files, the patch made with createPatch and the
// service's zstd (WebAssembly, PATCH_ZSTD_LEVEL), decoded again with zstd.decompress + applyPatch and
// compared with the target's files, then stored in R2. Beside the patch it stores a JSON of stats
// (stats/<id>.json) that bench/delta.mjs waits for. A message may carry plan options, passed to
// createPatch as they are (to compare plans without touching DEFAULT_PLAN), and a `probe` message
// only tells whether Date.now() advances during synchronous compute in this workerd.
import { PATCH_ZSTD_LEVEL } from "../src/deps";
import { DEFAULT_PACKAGE_LIMITS } from "../src/domain/package";
import { DEFAULT_PLAN } from "../src/domain/patch";
import { fflateReader } from "../src/edge/zip-reader";
import { zstd } from "../src/edge/zstd";
import { makeVerifiedPatch, packageStream } from "../src/usecases/patches";

interface PackageRef {
  /** R2 key of the zip. */
  key: string;
  sha256: string;
  manifestSha256: string;
}

export interface DeltaJob {
  id: string;
  probe?: boolean;
  base?: PackageRef;
  target?: PackageRef;
  plan?: { segmentBytes: number; dictBytes: number };
}

interface DeltaEnv {
  BUCKET: R2Bucket;
}

/** What a probe measured: the clock's reading around ~spinMs of pure compute (no I/O, no await). */
export interface ProbeStats {
  dateMs: number;
  performanceMs: number;
  spins: number;
}

export interface DeltaStats {
  patchBytes: number;
  segments: number;
  /** Date.now() deltas of each phase (meaningful only when the probe saw the clock advance). */
  readMs: number;
  unpackMs: number;
  createMs: number;
  verifyMs: number;
  totalMs: number;
  /** The zstd module's linear memory after the job (it only grows; shared by the isolate's jobs). */
  zstdMemoryBytes: number;
  /** Bytes the job holds at once beside zstd: both zips, both unpacked, both streams, the patch. */
  heldBytes: number;
  zipBytes: number;
  unpackedBytes: number;
}

async function zipOf(env: DeltaEnv, key: string): Promise<Uint8Array> {
  const object = await env.BUCKET.get(key);
  if (object === null) throw new Error(`${key} is not in the bucket`);
  return new Uint8Array(await object.arrayBuffer());
}

function probe(): ProbeStats {
  const date = Date.now();
  const perf = performance.now();
  // ~0.5 s of integer work the optimizer cannot drop.
  let x = 1;
  let spins = 0;
  for (; spins < 100_000_000; spins++) x = (x * 1103515245 + 12345) | 0;
  return { dateMs: Date.now() - date, performanceMs: performance.now() - perf, spins: spins + (x & 0) };
}

async function build(env: DeltaEnv, job: DeltaJob & { base: PackageRef; target: PackageRef }): Promise<DeltaStats> {
  const t0 = Date.now();
  const [baseZip, targetZip] = await Promise.all([zipOf(env, job.base.key), zipOf(env, job.target.key)]);
  const t1 = Date.now();
  // As the job does: each package becomes its stream, the unpacked files are let go.
  const base = packageStream((await fflateReader.contents(baseZip, DEFAULT_PACKAGE_LIMITS)).files);
  const target = packageStream((await fflateReader.contents(targetZip, DEFAULT_PACKAGE_LIMITS)).files);
  const t2 = Date.now();
  const z = await zstd();
  const codec = {
    compress: (data: Uint8Array, dict: Uint8Array) => z.compress(data, dict, PATCH_ZSTD_LEVEL),
    decompress: (frame: Uint8Array, dict: Uint8Array, size: number) => z.decompress(frame, dict, size),
    memoryBytes: () => z.memoryBytes(),
  };
  let segments = 0;
  // Exactly what the Queue job runs: build, decode every segment again with both decoders, compare.
  const patch = await makeVerifiedPatch(codec, base, target, job.plan ?? DEFAULT_PLAN, (_, count) => {
    segments = count;
  });
  const t4 = Date.now();
  const zipBytes = baseZip.length + targetZip.length;
  const unpackedBytes = base.stream.length + target.stream.length;
  await env.BUCKET.put(`patches/${job.id}`, patch);
  return {
    patchBytes: patch.length,
    segments,
    readMs: t1 - t0,
    unpackMs: t2 - t1,
    // Build and verify together: makeVerifiedPatch is one step, as in the job.
    createMs: t4 - t2,
    verifyMs: 0,
    totalMs: t4 - t0,
    zstdMemoryBytes: z.memoryBytes(),
    // The two streams (held while the segments are compressed and checked), the zips and the patch;
    // while one package is unpacked its files are held beside its stream (about its size again).
    heldBytes: zipBytes + unpackedBytes + patch.length,
    zipBytes,
    unpackedBytes,
  };
}

async function run(env: DeltaEnv, job: DeltaJob): Promise<void> {
  let result: { probe: ProbeStats } | { stats: DeltaStats } | { error: string };
  try {
    if (job.probe) result = { probe: probe() };
    else if (job.base && job.target)
      result = { stats: await build(env, { ...job, base: job.base, target: job.target }) };
    else result = { error: "a job needs a base and a target" };
  } catch (error) {
    result = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  await env.BUCKET.put(`stats/${job.id}.json`, JSON.stringify(result));
}

export default {
  async fetch() {
    return new Response("bench:delta worker: jobs arrive on its Queue\n");
  },
  async queue(batch, env) {
    for (const message of batch.messages) {
      await run(env, message.body);
      message.ack();
    }
  },
} satisfies ExportedHandler<DeltaEnv, DeltaJob>;
