// The publisher's signature of a result: the host app's own trust, independent of the service key.
import type { Ed25519Verify } from "./adapters.ts";
import type { UpdateResult } from "./answer.ts";
import { fromBase64url, utf8Encode } from "./bytes.ts";
import { statementText } from "./canonical.ts";
import { UpdraftError } from "./errors.ts";
import type { PinnedKey } from "./keyset.ts";

/**
 * Verifies the publisher signature of `result` (docs/publishing.md) with the host app's pinned keys:
 * the statement is rebuilt from the mini program key asked about (`result.id`, checked against the
 * request), `version`, `package.sha256`, `package.size` and `package.manifestSha256`.
 *
 * - no signature: "unsigned" when `allowUnsigned` (development), else `PUBLISHER_SIGNATURE_MISSING`;
 * - a key id the host app does not pin (never pinned, or removed from its set: revoked), even when
 *   unsigned results are allowed: `PUBLISHER_SIGNATURE_UNTRUSTED`;
 * - no manifest to state: `MANIFEST_MISSING`;
 * - a signature that does not verify: `PUBLISHER_SIGNATURE_INVALID`.
 */
export async function verifyPublisherSignature(
  result: UpdateResult,
  pinned: ReadonlyMap<string, PinnedKey>,
  allowUnsigned: boolean,
  verify: Ed25519Verify,
): Promise<"signed" | "unsigned"> {
  const { signature, publisherKeyId } = result;
  if (signature === null || publisherKeyId === null) {
    if (allowUnsigned && signature === null && publisherKeyId === null) return "unsigned";
    throw new UpdraftError(
      "PUBLISHER_SIGNATURE_MISSING",
      `Version ${result.version} of ${result.id} carries no publisher signature.`,
    );
  }
  const key = pinned.get(publisherKeyId);
  if (key === undefined) {
    throw new UpdraftError(
      "PUBLISHER_SIGNATURE_UNTRUSTED",
      `Version ${result.version} of ${result.id} is signed by publisher key ${publisherKeyId}, which the app does not pin.`,
    );
  }
  const manifestSha256 = result.package.manifestSha256;
  if (manifestSha256 === null) {
    throw new UpdraftError("MANIFEST_MISSING", `Version ${result.version} of ${result.id} names no manifest.`);
  }
  const statement = statementText({
    miniProgram: result.id,
    version: result.version,
    sha256: result.package.sha256,
    size: result.package.size,
    manifestSha256,
  });
  const sig = fromBase64url(signature);
  if (sig === null || sig.length !== 64 || !(await verify(sig, utf8Encode(statement), key.publicKey))) {
    throw new UpdraftError(
      "PUBLISHER_SIGNATURE_INVALID",
      `The publisher signature of version ${result.version} of ${result.id} does not verify.`,
    );
  }
  return "signed";
}
