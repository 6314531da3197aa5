// src/vendor/zstd/zstd.wasm is @bokuweb/zstd-wasm's binary, copied because the package's exports
// do not let a bundler import it: it must stay byte for byte the installed package's.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

describe("vendored zstd", () => {
  it("is the installed @bokuweb/zstd-wasm binary, unchanged", () => {
    const require = createRequire(import.meta.url);
    const main = require.resolve("@bokuweb/zstd-wasm");
    const packaged = readFileSync(join(dirname(main), "..", "esm", "zstd.wasm"));
    const vendored = readFileSync(join(import.meta.dirname, "..", "..", "src", "vendor", "zstd", "zstd.wasm"));
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    expect(sha(vendored)).toBe(sha(packaged));
    expect(JSON.parse(readFileSync(join(dirname(main), "..", "..", "package.json"), "utf8")).version).toBe("0.0.27");
  });
});
