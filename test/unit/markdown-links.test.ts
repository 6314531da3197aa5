// Every relative link in the repository's Markdown must point at something that exists, down to the
// heading an `#anchor` names, and the docs must stand alone: a clone has nothing outside the
// repository to refer to. The checker runs over the real tree and over a small fixture tree whose
// broken links it must find, so a checker that finds nothing cannot pass by accident.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { allowedNext, RELEASE_STATUSES } from "../../src/domain/release-status";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SKIPPED_DIRS = new Set(["node_modules", ".wrangler", ".git"]);

/** Every `*.md` file under `root`, as paths relative to it, skipping dependencies and local state. */
function markdownFiles(root: string, dir = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) out.push(...markdownFiles(root, rel));
    } else if (entry.isFile() && entry.name.toLowerCase().endsWith(".md")) {
      out.push(rel);
    }
  }
  return out.sort();
}

/** The text with fenced code blocks blanked, keeping the line count. */
function withoutFences(text: string): string {
  let fence: string | null = null;
  return text
    .split("\n")
    .map((line) => {
      const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === null && marker !== undefined) {
        fence = marker;
        return "";
      }
      if (fence !== null) {
        if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
        return "";
      }
      return line;
    })
    .join("\n");
}

/** The text without code: fenced blocks blanked, inline code spans removed (line count kept). */
function withoutCode(text: string): string {
  return withoutFences(text).replace(/(`+)[^`]*?\1/g, (span) => span.replace(/[^\n]/g, ""));
}

interface Link {
  line: number;
  target: string;
}

/** Inline links and images `[text](target "title")` and reference definitions `[label]: target`. */
function linksIn(text: string): Link[] {
  const links: Link[] = [];
  withoutCode(text)
    .split("\n")
    .forEach((line, i) => {
      const definition = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(line);
      if (definition?.[1] !== undefined) links.push({ line: i + 1, target: definition[1] });
      for (const m of line.matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^()\s]+(?:\([^()\s]*\)[^()\s]*)*)/g)) {
        const raw = m[1] ?? "";
        links.push({ line: i + 1, target: raw.startsWith("<") ? raw.slice(1, -1) : raw });
      }
    });
  return links;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links and images keep their text
    .replace(/<[^>]+>/g, "") // inline HTML
    .replace(/[`*]/g, "") // code and emphasis markers
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "").replace(/\s/g, "-");
}

/** Every anchor a Markdown file offers: heading slugs (numbered when repeated) and explicit ids. */
function anchorsIn(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const add = (heading: string) => {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  };
  const lines = withoutFences(text).split("\n");
  lines.forEach((line, i) => {
    const atx = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (atx?.[1] !== undefined) add(atx[1]);
    else if (/^ {0,3}(=+|-+)\s*$/.test(lines[i + 1] ?? "") && line.trim() !== "" && !line.includes("|")) add(line);
    for (const m of line.matchAll(/<a\s[^>]*(?:id|name)="([^"]+)"/g)) if (m[1] !== undefined) anchors.add(m[1]);
  });
  return anchors;
}

/** Every relative link under `root` that points at nothing, as `file:line: target (why)`. */
function brokenLinks(root: string): string[] {
  const broken: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsOf = (file: string) => {
    let anchors = anchorCache.get(file);
    if (anchors === undefined) {
      anchors = anchorsIn(readFileSync(file, "utf8"));
      anchorCache.set(file, anchors);
    }
    return anchors;
  };
  for (const rel of markdownFiles(root)) {
    const file = path.join(root, rel);
    for (const { line, target } of linksIn(readFileSync(file, "utf8"))) {
      // http:, https:, mailto: and any other scheme are not files of this repository.
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
      const hash = target.indexOf("#");
      const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const fragment = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
      const resolved =
        pathPart === ""
          ? file
          : pathPart.startsWith("/")
            ? path.join(root, pathPart)
            : path.resolve(path.dirname(file), pathPart);
      const where = `${rel}:${line}: ${target}`;
      if (path.relative(root, resolved).startsWith("..")) {
        broken.push(`${where} (outside the repository)`);
      } else if (!existsSync(resolved)) {
        broken.push(`${where} (no such file)`);
      } else if (fragment !== null && fragment !== "" && statSync(resolved).isFile() && resolved.endsWith(".md")) {
        if (!anchorsOf(resolved).has(fragment.toLowerCase())) broken.push(`${where} (no such heading)`);
      }
    }
  }
  return broken;
}

/** Lines of README.md and docs/ that refer to files that exist only outside the repository. */
function outsideReferences(root: string): string[] {
  const found: string[] = [];
  for (const rel of markdownFiles(root)) {
    if (rel !== "README.md" && !rel.startsWith(`docs${path.sep}`)) continue;
    readFileSync(path.join(root, rel), "utf8")
      .split("\n")
      .forEach((text, i) => {
        for (const name of ["../shared", "PRODUCT.md", "HOUSE-STYLE.md"]) {
          if (text.includes(name)) found.push(`${rel}:${i + 1}: ${name}`);
        }
      });
  }
  return found;
}

describe("Markdown links in this repository", () => {
  it("finds the repository's Markdown files (and none under node_modules or .git)", () => {
    const files = markdownFiles(ROOT);
    expect(files).toEqual(expect.arrayContaining(["README.md", path.join("docs", "overview.md")]));
    expect(files.some((f) => f.split(path.sep).some((part) => SKIPPED_DIRS.has(part)))).toBe(false);
  });

  it("every relative link and #anchor points at something that exists", () => {
    expect(brokenLinks(ROOT)).toEqual([]);
  });

  it("README.md and docs/ refer to nothing outside the repository", () => {
    expect(outsideReferences(ROOT)).toEqual([]);
  });
});

describe("the link checker itself", () => {
  const fixture = mkdtempSync(path.join(tmpdir(), "updraft-md-links-"));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  mkdirSync(path.join(fixture, "docs"));
  mkdirSync(path.join(fixture, "node_modules", "dep"), { recursive: true });
  writeFileSync(
    path.join(fixture, "docs", "guide.md"),
    [
      "# Guide",
      "## 1.3 Signature",
      "## Run it, test it",
      "## `npm start` & friends",
      "## Repeated",
      "## Repeated",
      "Setext heading",
      "--------------",
      '<a id="custom-anchor"></a>',
    ].join("\n"),
  );
  writeFileSync(
    path.join(fixture, "README.md"),
    [
      "[ok](docs/guide.md) [ok](docs/guide.md#13-signature) [ok](./docs/guide.md#run-it-test-it)",
      "[ok](docs/guide.md#npm-start--friends) [ok](docs/guide.md#repeated-1) [ok](docs/guide.md#setext-heading)",
      "[ok](docs/guide.md#custom-anchor) [ok](#own-heading) [ok](docs/) ![ok](docs/guide.md 'a title')",
      "[web](https://example.com/missing.md) [mail](mailto:someone@example.com)",
      "[missing file](docs/missing.md)",
      "[missing heading](docs/guide.md#no-such-heading)",
      "[repeated too often](docs/guide.md#repeated-2)",
      "[outside](../shared/PRODUCT.md)",
      "`[in code](docs/nothing-here.md)`",
      "```",
      "[in a fence](docs/nothing-here-either.md)",
      "```",
      "[ref]: docs/missing-reference.md",
      "# Own heading",
    ].join("\n"),
  );
  writeFileSync(path.join(fixture, "node_modules", "dep", "README.md"), "[dependency's own](nowhere.md)");

  it("reports each broken link with its file and line, and nothing else", () => {
    expect(brokenLinks(fixture)).toEqual([
      "README.md:5: docs/missing.md (no such file)",
      "README.md:6: docs/guide.md#no-such-heading (no such heading)",
      "README.md:7: docs/guide.md#repeated-2 (no such heading)",
      "README.md:8: ../shared/PRODUCT.md (outside the repository)",
      "README.md:13: docs/missing-reference.md (no such file)",
    ]);
  });

  it("reports mentions of files outside the repository in README.md and docs/", () => {
    writeFileSync(path.join(fixture, "docs", "style.md"), "See HOUSE-STYLE.md.\n");
    expect(outsideReferences(fixture)).toEqual([
      "README.md:8: ../shared",
      "README.md:8: PRODUCT.md",
      "docs/style.md:1: HOUSE-STYLE.md",
    ]);
  });

  it("slugs headings as GitHub does", () => {
    expect(slug("1.3 Signature")).toBe("13-signature");
    expect(slug("Run it, test it")).toBe("run-it-test-it");
    expect(slug("A CDN in front of downloads")).toBe("a-cdn-in-front-of-downloads");
    expect(slug("Time windows: exact caps without a round trip per check")).toBe(
      "time-windows-exact-caps-without-a-round-trip-per-check",
    );
    expect(slug("Allowlists (and denylists)")).toBe("allowlists-and-denylists");
  });
});

describe("docs/overview.md release lifecycle diagram", () => {
  it("draws exactly the transitions of src/domain/release-status.ts, plus the automatic archiving", () => {
    const text = readFileSync(path.join(ROOT, "docs", "overview.md"), "utf8");
    const block = /```mermaid\n(stateDiagram-v2\n[\s\S]*?)```/.exec(text)?.[1];
    expect(block).toBeDefined();
    const drawn = new Set<string>();
    for (const m of (block ?? "").matchAll(/^\s*(\w+)\s*-->\s*(\w+)/gm)) drawn.add(`${m[1]} -> ${m[2]}`);
    const expected = new Set<string>(["full -> archived"]);
    for (const from of RELEASE_STATUSES) for (const to of allowedNext(from)) expected.add(`${from} -> ${to}`);
    expect([...drawn].sort()).toEqual([...expected].sort());
    // Every status appears, and the diagram starts at `created`.
    expect(block).toMatch(/\[\*\] --> created/);
    for (const status of RELEASE_STATUSES) expect(block).toContain(status);
  });
});
