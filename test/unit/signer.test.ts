import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { ed25519Signer, fromBase64Url } from "../../src/edge/crypto";

const toBase64Url = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(new Uint8Array(bytes)).toString("base64url");

const seed = toBase64Url(Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1));
const PKCS8_PREFIX = "302e020100300506032b657004220420";

describe("ed25519Signer", () => {
  it("signs exactly as WebCrypto does with the same seed, and its public key verifies the signature", async () => {
    const signer = ed25519Signer(seed, "k1");
    if (signer === null) throw new Error("signer expected");
    const pkcs8 = Uint8Array.from([
      ...(PKCS8_PREFIX.match(/../g) ?? []).map((h) => Number.parseInt(h, 16)),
      ...(fromBase64Url(seed) ?? []),
    ]);
    const webKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
    const publicX = await signer.publicKey();
    expect(publicX).toBe(((await crypto.subtle.exportKey("jwk", webKey)) as JsonWebKey).x);
    const verifyKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", x: publicX },
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    for (const text of ["", "{}", '{"results":[]}', "é🚀".repeat(500)]) {
      const bytes = new TextEncoder().encode(text);
      const signature = await signer.sign(bytes);
      expect(signature).toBe(toBase64Url(await crypto.subtle.sign({ name: "Ed25519" }, webKey, bytes)));
      expect(signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
      const raw = fromBase64Url(signature) ?? new Uint8Array();
      expect(await crypto.subtle.verify({ name: "Ed25519" }, verifyKey, raw, bytes)).toBe(true);
      const tampered = new TextEncoder().encode(`${text} `);
      expect(await crypto.subtle.verify({ name: "Ed25519" }, verifyKey, raw, tampered)).toBe(false);
    }
  });

  it("refuses seeds that are not 32 bytes of base64url", () => {
    expect(ed25519Signer("short", "k")).toBeNull();
    expect(ed25519Signer(toBase64Url(new Uint8Array(33)), "k")).toBeNull();
  });
});
