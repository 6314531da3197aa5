import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ID_PREFIXES, looksLikeId } from "../../src/domain/keys";

/** Every `ids.id("<prefix>")` call in src/: the prefixes Updraft actually generates. */
function generatedPrefixes(dir = "src"): Set<string> {
  const found = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) for (const p of generatedPrefixes(path)) found.add(p);
    else if (path.endsWith(".ts"))
      for (const m of readFileSync(path, "utf8").matchAll(/\bids\.id\("([a-z]+)"\)/g)) found.add(m[1] ?? "");
  }
  return found;
}

describe("id-shaped keys and names", () => {
  it("ID_PREFIXES lists every prefix the code generates ids with", () => {
    const prefixes = generatedPrefixes();
    expect(prefixes.size).toBeGreaterThan(5);
    for (const p of prefixes) expect(ID_PREFIXES, p).toContain(p);
  });

  it.each(["mp_abc", "al_x", "rel_2w7", "WS_upper", "app_"])("refuses %s", (v) => {
    expect(looksLikeId(v)).toBe(true);
  });

  it.each(["mp-abc", "map_x", "alpha_beta", "ab_testers", "testers", "mp", "xal_"])("accepts %s", (v) => {
    expect(looksLikeId(v)).toBe(false);
  });
});
