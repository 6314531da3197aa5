// The root role of service key rotation: `keys root-keygen`, `keys sign` (a SignedKeyset the SDK's
// parsers accept, its signature verifiable with node:crypto) and `keys verify` (against the
// repository's own trust fixture too, from a file or a server's GET /v1/keys).
import { createPublicKey, verify } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { keysetSigningText, parseKeysetPayload, parseSignedKeyset } from "@updraft/sdk/canonical";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicKeyOf, signedKeyset, TEST_SEEDS, testKeysetPayload } from "../../../test/support/trust.ts";
import { fakeServer, json, Scratch } from "./harness.ts";

const scratch = new Scratch();
afterAll(() => scratch.remove());

const NOW = Date.UTC(2026, 4, 1);
let root: { publicKey: string; keyId: string };
const current = publicKeyOf(TEST_SEEDS.current);

beforeAll(async () => {
  const made = await scratch.run(["keys", "root-keygen", "--out", "root.pem", "--json"]);
  expect(made.code, made.stderr).toBe(0);
  root = JSON.parse(made.stdout);
  writeFileSync(scratch.path("old.seed"), `${TEST_SEEDS.old}\n`);
});

async function sign(extra: string[] = []) {
  const result = await scratch.run(
    [
      "keys",
      "sign",
      "--root",
      "root.pem",
      "--version",
      "3",
      "--issued-at",
      "2026-04-01T00:00:00Z",
      "--key",
      `prod-2026=${current},notBefore=2026-03-01T00:00:00Z`,
      "--key",
      "prod-2025=old.seed,notAfter=2026-05-15T00:00:00Z",
      ...extra,
    ],
    { now: NOW },
  );
  expect(result.code, result.stderr).toBe(0);
  return result;
}

describe("updraft keys root-keygen", () => {
  it("writes the root key 0600 and prints its public key and key id", () => {
    expect(statSync(scratch.path("root.pem")).mode & 0o777).toBe(0o600);
    expect(root.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(root.keyId).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("updraft keys sign", () => {
  it("prints a SignedKeyset whose payload the SDK accepts and whose signature verifies", async () => {
    const result = await sign();
    const signed = parseSignedKeyset(JSON.parse(result.stdout));
    if (typeof signed === "string") throw new Error(signed);
    expect(signed.signatures.map((s) => s.keyId)).toEqual([root.keyId]);
    expect(Object.keys(JSON.parse(signed.payload))).toEqual(["type", "version", "issuedAt", "expiresAt", "keys"]);
    expect(parseKeysetPayload(signed.payload)).toEqual({
      type: "updraft-keyset",
      version: 3,
      issuedAt: Date.UTC(2026, 3, 1),
      expiresAt: null,
      keys: [
        { keyId: "prod-2026", alg: "Ed25519", publicKey: current, notBefore: Date.UTC(2026, 2, 1), notAfter: null },
        {
          keyId: "prod-2025",
          alg: "Ed25519",
          publicKey: publicKeyOf(TEST_SEEDS.old),
          notBefore: null,
          notAfter: Date.UTC(2026, 4, 15),
        },
      ],
    });
    const rootKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: root.publicKey }, format: "jwk" });
    const signature = Buffer.from(signed.signatures[0]?.signature as string, "base64url");
    expect(verify(null, Buffer.from(keysetSigningText(signed.payload)), rootKey, signature)).toBe(true);
    expect(result.stderr).toContain("key set version 3: 2 key(s)");
  });

  it("refuses what the SDK's parser refuses (a key listed twice): exit 2", async () => {
    const result = await scratch.run([
      "keys",
      "sign",
      "--root",
      "root.pem",
      "--version",
      "1",
      "--key",
      `a=${current}`,
      "--key",
      `a=${current}`,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("error: the key set is not valid: key a is listed twice\n");
  });

  it("takes the keys of a GET /v1/keys answer's signed payload (--keys), never its unsigned copy", async () => {
    // The unsigned `keys` list of the answer adds a key the signed payload does not have.
    const stranger = {
      keyId: "stranger",
      alg: "Ed25519",
      publicKey: publicKeyOf(TEST_SEEDS.stranger),
      notBefore: null,
      notAfter: null,
    };
    const keyset = await signedKeyset(testKeysetPayload());
    const answer = { keys: [...testKeysetPayload().keys, stranger], keyset };
    writeFileSync(scratch.path("keys.json"), JSON.stringify(answer));
    writeFileSync(scratch.path("null.json"), JSON.stringify({ keys: testKeysetPayload().keys, keyset: null }));
    const refused = await scratch.run(["keys", "sign", "--root", "root.pem", "--version", "4", "--keys", "null.json"]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/the key set is null/);
    const result = await scratch.run([
      "keys",
      "sign",
      "--root",
      "root.pem",
      "--version",
      "4",
      "--keys",
      "keys.json",
      "--out",
      "ks.json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const payload = parseKeysetPayload(JSON.parse(readFileSync(scratch.path("ks.json"), "utf8")).payload);
    expect(typeof payload === "object" && payload.keys).toEqual(testKeysetPayload().keys);
  });
});

describe("updraft keys verify", () => {
  it("accepts a key set signed by the root and lists its keys' windows", async () => {
    writeFileSync(scratch.path("signed.json"), (await sign()).stdout);
    const result = await scratch.run(["keys", "verify", "--root-public", root.publicKey, "signed.json"], { now: NOW });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `OK: key set version 3, issued 2026-04-01T00:00:00Z, expires never, signed by root ${root.keyId}`,
    );
    expect(result.stdout).toMatch(/prod-2026 .* yes\n/);
  });

  it("refuses another root, an older version than --min-version and an expired key set (exit 5)", async () => {
    writeFileSync(scratch.path("signed.json"), (await sign(["--expires", "2026-04-15T00:00:00Z"])).stdout);
    const stranger = await scratch.run(
      ["keys", "verify", "--root-public", publicKeyOf(TEST_SEEDS.stranger), "signed.json", "--json"],
      {
        now: Date.UTC(2026, 3, 2),
      },
    );
    expect(stranger.code).toBe(5);
    expect(stranger.stderr).toMatch(/^error: verification failed: no signature verifies with the given root key/);
    expect(JSON.parse(stranger.stdout).ok).toBe(false);
    const old = await scratch.run(
      ["keys", "verify", "--root-public", root.publicKey, "--min-version", "4", "signed.json"],
      {
        now: Date.UTC(2026, 3, 2),
      },
    );
    expect(old.code).toBe(5);
    expect(old.stderr).toContain("version 3 is lower than 4");
    const expired = await scratch.run(["keys", "verify", "--root-public", root.publicKey, "signed.json"], { now: NOW });
    expect(expired.code).toBe(5);
    expect(expired.stderr).toContain("expired at 2026-04-15T00:00:00.000Z");
  });

  it("verifies the repository's test key set, as a server publishes it at GET /v1/keys", async () => {
    const keyset = await signedKeyset(testKeysetPayload());
    const server = fakeServer({ "GET /v1/keys": () => json({ keys: testKeysetPayload().keys, keyset }) });
    const result = await scratch.run(
      ["keys", "verify", "--root-public", publicKeyOf(TEST_SEEDS.root), "https://updraft.test", "--json"],
      {
        fetch: server.fetch,
        now: NOW,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(server.requests[0]?.headers.has("authorization")).toBe(false);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ ok: true, version: 2 });
    expect(out.keys.map((k: { keyId: string; validNow: boolean }) => [k.keyId, k.validNow])).toEqual([
      ["test-key", true],
      ["test-key-old", false],
    ]);
  });

  it("refuses a server without a key set, and one whose plain key list adds a key (exit 5)", async () => {
    const keyset = await signedKeyset(testKeysetPayload());
    const extra = {
      keyId: "sneaky",
      alg: "Ed25519",
      publicKey: publicKeyOf(TEST_SEEDS.stranger),
      notBefore: null,
      notAfter: null,
    };
    const server = fakeServer({
      "GET /v1/keys": () =>
        json({
          keys: [{ keyId: "k", alg: "Ed25519", publicKey: current, notBefore: null, notAfter: null }],
          keyset: null,
        }),
      "GET /other/v1/keys": () => json({ keys: [...testKeysetPayload().keys, extra], keyset }),
    });
    const tofu = await scratch.run(["keys", "verify", "--root-public", publicKeyOf(TEST_SEEDS.root)], {
      fetch: server.fetch,
      env: { UPDRAFT_SERVER: "https://updraft.test" },
    });
    expect(tofu.code).toBe(5);
    expect(tofu.stderr).toContain("publishes no signed key set");
    const sneaky = await scratch.run(
      ["keys", "verify", "--root-public", publicKeyOf(TEST_SEEDS.root), "https://updraft.test/other/v1/keys"],
      {
        fetch: server.fetch,
        now: NOW,
      },
    );
    expect(sneaky.code).toBe(5);
    expect(sneaky.stderr).toContain("lists key sneaky");
  });
});
