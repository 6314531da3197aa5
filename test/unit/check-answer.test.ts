import { describe, expect, it } from "vitest";
import { EMPTY_CONFIG } from "../../src/domain/config";
import type { Decision } from "../../src/domain/decide";
import type { SnapshotRelease } from "../../src/domain/snapshot";
import { type CheckResult, jsonString, resultJson } from "../../src/usecases/check-updates";

const release: SnapshotRelease = {
  releaseId: "rel_1",
  version: "1.2.0-beta.1",
  seq: 3,
  status: "canary",
  rollback: false,
  updateMode: "async",
  compat: "*",
  package: { sha256: "a".repeat(64), size: 1234 },
  publisherSignature: null,
  config: {
    ...EMPTY_CONFIG,
    switches: { 'quote"and\\backslash': "line\nbreak \u2028 é 🚀" },
    features: ["x", "</script>"],
  },
  targeting: null,
};

/** The documented CheckResult object: what resultJson must serialize exactly like JSON.stringify. */
function expected(id: string, decision: Decision, base: string): CheckResult {
  if (decision.action === "none" || decision.action === "removed") return { id, action: decision.action };
  const r = decision.release;
  return {
    id,
    action: decision.action,
    version: r.version,
    releaseId: r.releaseId,
    sequence: r.seq,
    updateMode: decision.updateMode,
    package: {
      url: `${base}/${r.package.sha256}`,
      sha256: r.package.sha256,
      size: r.package.size,
      manifestUrl: r.package.manifestSha256 ? `${base}/${r.package.manifestSha256}` : null,
      manifestSha256: r.package.manifestSha256 ?? null,
    },
    signature: r.publisherSignature,
    publisherKeyId: r.publisherKeyId ?? null,
    config: r.config,
  };
}

describe("resultJson", () => {
  const decisions: Decision[] = [
    { action: "none", reason: "UP_TO_DATE", trace: [] },
    { action: "update", release, updateMode: "sync", reason: "UPDATE_AVAILABLE", trace: [] },
    {
      action: "rollback",
      release: {
        ...release,
        publisherSignature: "sig_x",
        package: { ...release.package, manifestSha256: "b".repeat(64) },
      },
      updateMode: "async",
      reason: "ROLLBACK",
      trace: [],
    },
  ];
  const ids = [
    "demo-pay",
    'odd"id\\with\u0000control',
    "",
    "é-🚀",
    "tab\there",
    "~ !#$%&'()*+,-./:;<=>?@[]^_`{|}",
    "\u007f\ud800",
  ];

  it("is byte for byte JSON.stringify of the result object, for every action and awkward strings", () => {
    for (const decision of decisions) {
      for (const id of ids) {
        for (const base of ["http://127.0.0.1:8787/v1/packages", "https://updates.example/v1/packages"]) {
          expect(resultJson(id, decision, base)).toBe(JSON.stringify(expected(id, decision, base)));
        }
      }
    }
  });

  it("jsonString quotes exactly like JSON.stringify, for every character class", () => {
    const samples = [
      "",
      "a",
      '"',
      "\\",
      "\u001f",
      " ",
      "~",
      "\u007f",
      "é",
      "\u2028",
      "\ud83d\ude80",
      "\ud800",
      "\udc00x",
    ];
    for (let c = 0; c < 0x110; c++) samples.push(`x${String.fromCharCode(c)}y`);
    for (const s of samples) expect(jsonString(s)).toBe(JSON.stringify(s));
  });

  it("follows the request's origin for the package URL even after caching another origin", () => {
    const update = decisions[1] as Decision;
    const a = JSON.parse(resultJson("m", update, "http://a/v1/packages"));
    const b = JSON.parse(resultJson("m", update, "http://b/v1/packages"));
    expect(a.package.url).toBe(`http://a/v1/packages/${"a".repeat(64)}`);
    expect(b.package.url).toBe(`http://b/v1/packages/${"a".repeat(64)}`);
  });
});
