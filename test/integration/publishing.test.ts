// Publisher keys and signed uploads: a signature is verified against the workspace's keys over the
// package statement before anything is stored (docs/publishing.md).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { keysetSigningText, manifestText, type SignedKeyset, statementText } from "../../src/domain/publisher";
import { ed25519Signer } from "../../src/edge/crypto";
import {
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  goFull,
} from "../support/admin-factories";
import { OLD_KEY_NOT_AFTER, publicKeyOf, rawKeyId, TEST_KEYSET_VERSION, TEST_SEEDS } from "../support/trust";
import { addMember, call, makeWorkspace } from "../support/workspace";
import { makeZip, sha256Hex } from "../support/zip";

const utf8 = new TextEncoder();
const SEED_A = "cHVibGlzaGVyLWtleS1hLXNlZWQtMzItYnl0ZXMhISE";
const SEED_B = "cHVibGlzaGVyLWtleS1iLXNlZWQtMzItYnl0ZXMhISE";

/** A publisher: its public key and a function signing a package statement with it. */
function publisher(seed: string) {
  const signer = ed25519Signer(seed, "publisher");
  if (signer === null) throw new Error("bad seed");
  return signer;
}

/** A package of `files` and the signature of its statement for (mini program, version). */
function manifestOf(files: Record<string, string>) {
  return Promise.all(
    Object.entries(files).map(async ([path, text]) => ({
      path,
      size: utf8.encode(text).length,
      sha256: await sha256Hex(utf8.encode(text)),
    })),
  );
}

interface PackageResult {
  package: { sha256: string; manifestSha256: string | null; manifestUrl: string | null };
}

async function signedPackage(seed: string, miniProgram: string, version: string, files: Record<string, string>) {
  const zip = makeZip(files);
  const manifest = await manifestOf(files);
  const statement = statementText({
    miniProgram,
    version,
    sha256: await sha256Hex(zip),
    size: zip.length,
    manifestSha256: await sha256Hex(utf8.encode(manifestText(manifest))),
  });
  return { zip, signature: await publisher(seed).sign(utf8.encode(statement)) };
}

function upload(token: string, mp: string, version: string, zip: Uint8Array, headers: Record<string, string> = {}) {
  return call(`/v1/admin/mini-programs/${mp}/versions?version=${version}`, {
    method: "POST",
    token,
    headers: { "content-type": "application/zip", ...headers },
    body: zip,
  });
}

async function setup() {
  const ws = await makeWorkspace();
  const mp = await createMiniProgram(ws.token);
  const publicKey = await publisher(SEED_A).publicKey();
  const key = await expectJson<{ id: string; keyId: string; revokedAt: number | null }>(
    await call("/v1/admin/publisher-keys", { method: "POST", token: ws.token, json: { name: "CI", publicKey } }),
    201,
  );
  return { ws, mp, key, publicKey };
}

const FILES = { "index.js": "console.log('signed')", "app.json": "{}" };

describe("publisher keys", () => {
  it("are added by workspace admins, listed, named by a key id derived from the key, and revoked", async () => {
    const { ws, key, publicKey } = await setup();
    expect(key.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(key.keyId).toBe(
      (
        await sha256Hex(
          Uint8Array.from(atob(publicKey.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0)),
        )
      ).slice(0, 16),
    );
    const add = (json: unknown, token = ws.token) => call("/v1/admin/publisher-keys", { method: "POST", token, json });
    await expectProblem(await add({ name: "again", publicKey }), 409, "CONFLICT");
    await expectProblem(await add({ name: "short", publicKey: "AAAA" }), 400, "VALIDATION_FAILED");
    // The same 32 bytes spelled with stray low bits in the last character: one key, one spelling.
    const lastChar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = lastChar.indexOf(publicKey.at(-1) ?? "A");
    const stray = `${publicKey.slice(0, -1)}${lastChar[last ^ 1]}`;
    await expectProblem(await add({ name: "stray bits", publicKey: stray }), 400, "VALIDATION_FAILED");
    const dev = await addMember(ws.workspaceId, "developer");
    await expectProblem(
      await add({ name: "dev", publicKey: await publisher(SEED_B).publicKey() }, dev.token),
      403,
      "FORBIDDEN",
    );
    const listed = await expectJson<{ items: { keyId: string }[] }>(
      await call("/v1/admin/publisher-keys", { token: ws.token }),
      200,
    );
    expect(listed.items.map((k) => k.keyId)).toEqual([key.keyId]);
    const revoke = () => call(`/v1/admin/publisher-keys/${key.keyId}`, { method: "DELETE", token: ws.token });
    expect((await expectJson<{ revokedAt: number | null }>(await revoke(), 200)).revokedAt).toEqual(expect.any(Number));
    await expectProblem(await revoke(), 409, "CONFLICT");
    expect(
      (
        await expectJson<{ revokedAt: number | null }>(
          await call(`/v1/admin/publisher-keys/${key.id}`, { token: ws.token }),
          200,
        )
      ).revokedAt,
    ).not.toBeNull();
  });
});

describe("signed uploads", () => {
  it("accept a signature over the package statement and deliver it with the key id", async () => {
    const { ws, mp, key } = await setup();
    const { zip, signature } = await signedPackage(SEED_A, mp.key, "1.0.0", FILES);
    const res = await upload(ws.token, mp.key, "1.0.0", zip, {
      "updraft-publisher-signature": signature,
      "updraft-publisher-key-id": key.keyId,
    });
    const version = await expectJson<{ publisherSignature: string; publisherKeyId: string; manifestSha256: string }>(
      res,
      201,
    );
    expect(version).toMatchObject({ publisherSignature: signature, publisherKeyId: key.keyId });
    // Every check result offering it carries the signature and the key it verifies with.
    const app = await createApp(ws.token);
    const release = await createRelease(ws.token, {
      miniProgramId: mp.key,
      version: "1.0.0",
      appId: app.key,
      env: "prod",
    });
    await goFull(ws.token, release.id);
    const check = await call("/v1/check", {
      method: "POST",
      json: {
        appId: app.key,
        env: "prod",
        deviceId: "d",
        nonce: "n-1",
        patchFormats: ["bsdiff"],
        miniPrograms: [{ id: mp.key, version: null }],
      },
    });
    const answer = await expectJson<{ results: PackageResult[] } & Record<string, unknown>>(check, 200);
    // The answer names whom it is for, so a device refuses one meant for another app, env or device.
    expect(answer).toMatchObject({ appId: app.key, env: "prod", deviceId: "d", nonce: "n-1", keysetVersion: 2 });
    const [result] = answer.results;
    expect(result).toMatchObject({ action: "update", signature, publisherKeyId: key.keyId, sequence: 1 });
    // The signed manifest is served content-addressed beside the package, as its canonical text.
    const manifest = manifestText(await manifestOf(FILES));
    const manifestSha = await sha256Hex(utf8.encode(manifest));
    expect(version).toMatchObject({ manifestSha256: manifestSha });
    expect(result?.package).toMatchObject({
      manifestSha256: manifestSha,
      manifestUrl: `http://updraft.test/v1/packages/${manifestSha}`,
    });
    const served = await call(`/v1/packages/${manifestSha}`);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await served.text()).toBe(manifest);
    const head = await call(`/v1/packages/${manifestSha}`, { method: "HEAD" });
    expect(head.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const zipHead = await call(`/v1/packages/${result?.package.sha256}`, { method: "HEAD" });
    expect(zipHead.headers.get("content-type")).toBe("application/zip");
  });

  it("refuse a bad, foreign, unknown or revoked signature, storing nothing", async () => {
    const { ws, mp, key } = await setup();
    const { zip, signature } = await signedPackage(SEED_A, mp.key, "1.0.0", FILES);
    const signed = (sig: string, keyId = key.keyId) => ({
      "updraft-publisher-signature": sig,
      "updraft-publisher-key-id": keyId,
    });
    // Signed for another version: the statement differs.
    const other = await signedPackage(SEED_A, mp.key, "9.9.9", FILES);
    await expectProblem(
      await upload(ws.token, mp.key, "1.0.0", zip, signed(other.signature)),
      422,
      "PUBLISHER_SIGNATURE_INVALID",
    );
    // Signed by a key the workspace does not have, named as if it were ours.
    const foreign = await signedPackage(SEED_B, mp.key, "1.0.0", FILES);
    await expectProblem(
      await upload(ws.token, mp.key, "1.0.0", zip, signed(foreign.signature)),
      422,
      "PUBLISHER_SIGNATURE_INVALID",
    );
    await expectProblem(
      await upload(ws.token, mp.key, "1.0.0", zip, signed(signature, "0123456789abcdef")),
      422,
      "PUBLISHER_KEY_UNKNOWN",
    );
    await expectProblem(
      await upload(ws.token, mp.key, "1.0.0", zip, { "updraft-publisher-signature": signature }),
      422,
      "PUBLISHER_SIGNATURE_INVALID",
    );
    await expectProblem(
      await upload(ws.token, mp.key, "1.0.0", zip, signed("not-a-signature")),
      422,
      "PUBLISHER_SIGNATURE_INVALID",
    );
    await expectJson(await call(`/v1/admin/publisher-keys/${key.keyId}`, { method: "DELETE", token: ws.token }), 200);
    await expectProblem(await upload(ws.token, mp.key, "1.0.0", zip, signed(signature)), 422, "PUBLISHER_KEY_REVOKED");
    await expectProblem(
      await call(`/v1/admin/mini-programs/${mp.key}/versions/1.0.0`, { token: ws.token }),
      404,
      "NOT_FOUND",
    );
  });

  it("are required once the workspace says so", async () => {
    const { ws, mp, key } = await setup();
    const patched = await expectJson<{ requireSignedUploads: boolean }>(
      await call("/v1/admin/workspace", { method: "PATCH", token: ws.token, json: { requireSignedUploads: true } }),
      200,
    );
    expect(patched.requireSignedUploads).toBe(true);
    const { zip, signature } = await signedPackage(SEED_A, mp.key, "1.0.0", FILES);
    await expectProblem(await upload(ws.token, mp.key, "1.0.0", zip), 422, "PUBLISHER_SIGNATURE_REQUIRED");
    await expectJson(
      await upload(ws.token, mp.key, "1.0.0", zip, {
        "updraft-publisher-signature": signature,
        "updraft-publisher-key-id": key.keyId,
      }),
      201,
    );
  });
});

describe("new workspaces", () => {
  it("require signed uploads from the start", async () => {
    const created = await expectJson<{ token: string }>(
      await call("/v1/workspaces", {
        method: "POST",
        headers: { "updraft-bootstrap-secret": "test-bootstrap-secret" },
        json: { workspaceName: "Signed", adminName: "Ada", adminEmail: `ada-${crypto.randomUUID()}@example.test` },
      }),
      201,
    );
    const workspace = await expectJson<{ requireSignedUploads: boolean }>(
      await call("/v1/admin/workspace", { token: created.token }),
      200,
    );
    expect(workspace.requireSignedUploads).toBe(true);
    const mp = await createMiniProgram(created.token);
    await expectProblem(
      await upload(created.token, mp.key, "1.0.0", makeZip(FILES)),
      422,
      "PUBLISHER_SIGNATURE_REQUIRED",
    );
  });
});

describe("GET /v1/keys", () => {
  it("publishes the root-signed key set with every key's validity window", async () => {
    const res = await call("/v1/keys");
    const body = await expectJson<{
      keys: { keyId: string; notBefore: number | null; notAfter: number | null; publicKey: string }[];
      keyset: SignedKeyset;
      keysetVersion: number;
    }>(res, 200);
    expect(body.keysetVersion).toBe(TEST_KEYSET_VERSION);
    expect(body.keys.map((k) => [k.keyId, k.notAfter])).toEqual([
      ["test-key", null],
      ["test-key-old", OLD_KEY_NOT_AFTER],
    ]);
    expect(body.keys[0]?.publicKey).toBe(publicKeyOf(TEST_SEEDS.current));
    // The key set verifies with the root key, over the header and the payload exactly as published.
    const [sig] = body.keyset.signatures;
    expect(sig?.keyId).toBe(rawKeyId(publicKeyOf(TEST_SEEDS.root)));
    const rootKey = await crypto.subtle.importKey(
      "raw",
      Uint8Array.from(atob(publicKeyOf(TEST_SEEDS.root).replaceAll("-", "+").replaceAll("_", "/")), (c) =>
        c.charCodeAt(0),
      ),
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    const signatureBytes = Uint8Array.from(
      atob((sig?.signature ?? "").replaceAll("-", "+").replaceAll("_", "/")),
      (c) => c.charCodeAt(0),
    );
    const signedText = utf8.encode(keysetSigningText(body.keyset.payload));
    expect(await crypto.subtle.verify({ name: "Ed25519" }, rootKey, signatureBytes, signedText)).toBe(true);
    signedText.set([(signedText.at(-2) ?? 0) ^ 1], signedText.length - 2);
    expect(await crypto.subtle.verify({ name: "Ed25519" }, rootKey, signatureBytes, signedText)).toBe(false);
    expect(JSON.parse(body.keyset.payload).keys).toEqual(body.keys);
  });
});

describe("versions uploaded before manifests were kept", () => {
  it("get their manifest when the same bytes are uploaded again", async () => {
    const ws = await makeWorkspace();
    const mp = await createMiniProgram(ws.token);
    const zip = makeZip(FILES);
    const first = await expectJson<{ id: string; manifestSha256: string }>(
      await upload(ws.token, mp.key, "1.0.0", zip),
      201,
    );
    const manifestSha = await sha256Hex(utf8.encode(manifestText(await manifestOf(FILES))));
    expect(first.manifestSha256).toBe(manifestSha);
    // As a row written before migration 0006 would be.
    await env.DB.prepare("UPDATE versions SET manifest_sha256 = NULL WHERE id = ?").bind(first.id).run();
    const replay = await expectJson<{ id: string; manifestSha256: string }>(
      await upload(ws.token, mp.key, "1.0.0", zip),
      200,
    );
    expect(replay).toMatchObject({ id: first.id, manifestSha256: manifestSha });
    const stored = await expectJson<{ manifestSha256: string }>(
      await call(`/v1/admin/mini-programs/${mp.key}/versions/1.0.0`, { token: ws.token }),
      200,
    );
    expect(stored.manifestSha256).toBe(manifestSha);
  });
});
