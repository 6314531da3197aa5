// Publisher keys and signed uploads: a signature is verified against the workspace's keys over the
// package statement before anything is stored (docs/publishing.md).
import { describe, expect, it } from "vitest";
import { manifestText, statementText } from "../../src/domain/publisher";
import { ed25519Signer } from "../../src/edge/crypto";
import {
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  goFull,
} from "../support/admin-factories";
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
async function signedPackage(seed: string, miniProgram: string, version: string, files: Record<string, string>) {
  const zip = makeZip(files);
  const manifest = await Promise.all(
    Object.entries(files).map(async ([path, text]) => ({
      path,
      size: utf8.encode(text).length,
      sha256: await sha256Hex(utf8.encode(text)),
    })),
  );
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
    const version = await expectJson<{ publisherSignature: string; publisherKeyId: string }>(res, 201);
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
      json: { appId: app.key, env: "prod", deviceId: "d", miniPrograms: [{ id: mp.key, version: null }] },
    });
    const [result] = (await expectJson<{ results: Record<string, unknown>[] }>(check, 200)).results;
    expect(result).toMatchObject({ action: "update", signature, publisherKeyId: key.keyId });
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
