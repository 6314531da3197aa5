import type { ManifestFile } from "../domain/package";
import type { PackageStore } from "../usecases/ports";

const packageKey = (sha256: string) => `packages/${sha256}`;
const manifestKey = (sha256: string) => `manifests/${sha256}.json`;

/** Package bytes in R2 under their sha256; every write is create-only. */
export function r2PackageStore(bucket: R2Bucket): PackageStore {
  // onlyIf etagDoesNotMatch "*" makes the put conditional on absence (R2 answers null when the
  // object exists); R2 also verifies the sha256. True when this call created the object.
  const create = async (sha256: string, body: Uint8Array | string, contentType: string) =>
    (await bucket.put(packageKey(sha256), body, {
      sha256,
      onlyIf: { etagDoesNotMatch: "*" },
      httpMetadata: { contentType },
    })) !== null;
  return {
    putIfAbsent: (sha256, bytes) => create(sha256, bytes, "application/zip"),
    async remove(sha256) {
      await bucket.delete([packageKey(sha256), manifestKey(sha256)]);
    },
    async putManifest(sha256, files) {
      await bucket.put(manifestKey(sha256), JSON.stringify(files), {
        onlyIf: { etagDoesNotMatch: "*" },
        httpMetadata: { contentType: "application/json" },
      });
    },
    async getManifest(sha256) {
      const obj = await bucket.get(manifestKey(sha256));
      return obj === null ? null : ((await obj.json()) as ManifestFile[]);
    },
    async putText(sha256, text) {
      await create(sha256, text, "text/plain; charset=utf-8");
    },
    async putPatch(sha256, bytes) {
      await create(sha256, bytes, "application/vnd.updraft.patch");
    },
    async head(sha256) {
      const obj = await bucket.head(packageKey(sha256));
      return obj === null ? null : { size: obj.size, contentType: obj.httpMetadata?.contentType ?? "application/zip" };
    },
    async get(sha256, range) {
      const obj = await bucket.get(packageKey(sha256), range ? { range } : undefined);
      if (obj === null) return null;
      const contentType = obj.httpMetadata?.contentType ?? "application/zip";
      return range
        ? { body: obj.body, size: obj.size, contentType, range }
        : { body: obj.body, size: obj.size, contentType };
    },
  };
}
