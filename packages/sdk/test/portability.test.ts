// The core must run on any JavaScript engine, and Node must run the sources as they are.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..", "src");
const sources = readdirSync(SRC).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
const importsOf = (file: string) =>
  [...readFileSync(join(SRC, file), "utf8").matchAll(/^\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']/gm)].map(
    (m) => m[1] as string,
  );

describe("the SDK sources", () => {
  it("import node:* only in node.ts", () => {
    expect(sources.length).toBeGreaterThan(10);
    const offenders = sources.filter((f) => f !== "node.ts" && importsOf(f).some((s) => s.startsWith("node:")));
    expect(offenders).toEqual([]);
    expect(importsOf("node.ts").some((s) => s.startsWith("node:"))).toBe(true);
  });

  it("name relative imports with their .ts extension", () => {
    const bad = sources.flatMap((f) =>
      importsOf(f)
        .filter((s) => s.startsWith(".") && !s.endsWith(".ts"))
        .map((s) => `${f}: ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it("run in plain Node through type stripping, the core without Node globals", () => {
    const script = `
      const sdk = await import(${JSON.stringify(join(SRC, "index.ts"))});
      const node = await import(${JSON.stringify(join(SRC, "node.ts"))});
      const client = sdk.createClient({ baseUrl: "https://x.test", appId: "a", env: "e", deviceId: "d",
        rootKeys: [], rootThreshold: undefined, publisherKeys: [], storage: sdk.memoryStorage() });
    `;
    // rootThreshold defaults to 1 > 0 root keys: createClient refuses, which proves the module graph loaded.
    const out = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `${script.replace("const client =", "try {")} } catch (e) { console.log(e.code, typeof node.fileStorage); }`,
      ],
      { encoding: "utf8" },
    );
    expect(out.trim()).toBe("INVALID_OPTIONS function");
  });
});
