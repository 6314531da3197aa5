import { decide } from "../domain/decide";
import { AppError } from "../domain/errors";
import type { Snapshot } from "../domain/snapshot";
import type { Deps } from "./ports";

export interface CheckedMiniProgram {
  id: string;
  version: string | null;
  sha256: string | null;
  failed: string[];
}

export interface CheckInput {
  appId: string;
  env: string;
  deviceId: string;
  userId: string | null;
  appVersion: string | null;
  platform: string | null;
  osVersion: string | null;
  brand: string | null;
  model: string | null;
  network: string | null;
  language: string | null;
  attributes: Record<string, string>;
  nonce: string | null;
  miniPrograms: CheckedMiniProgram[];
}

export type CheckResult =
  | { id: string; action: "none" }
  | {
      id: string;
      action: "update" | "rollback";
      version: string;
      releaseId: string;
      updateMode: string;
      package: { url: string; sha256: string; size: number };
      signature: string | null;
      config: unknown;
    };

/** How long a signed check answer may be trusted by the client. */
export const CHECK_TTL_MS = 5 * 60 * 1000;

/**
 * Answers a device's update check from the compiled snapshot only (never the relational store).
 * An unknown app, environment, mini program or installed version yields `none`, exactly like
 * "no update". Returns the response body and the service's signature over its exact bytes.
 */
export async function checkUpdates(deps: Deps, input: CheckInput, packageBaseUrl: string) {
  const signer = deps.signer;
  if (signer === null) throw new AppError("SERVICE_MISCONFIGURED", "The service has no signing key configured.");
  const snapshot: Snapshot | null = await deps.snapshots.get(input.appId, input.env);
  const results: CheckResult[] = input.miniPrograms.map((mp) => {
    const decision = decide(snapshot?.miniPrograms[mp.id], {
      appVersion: input.appVersion,
      installed: mp.version,
      failed: mp.failed,
    });
    if (decision.action === "none") return { id: mp.id, action: "none" };
    const { release } = decision;
    return {
      id: mp.id,
      action: decision.action,
      version: release.version,
      releaseId: release.releaseId,
      updateMode: decision.updateMode,
      package: { url: `${packageBaseUrl}/${release.package.sha256}`, ...release.package },
      signature: release.publisherSignature,
      config: release.config,
    };
  });
  const issuedAt = deps.clock.now();
  const body = JSON.stringify({
    issuedAt,
    expiresAt: issuedAt + CHECK_TTL_MS,
    nonce: input.nonce,
    keyId: signer.keyId,
    results,
  });
  const signature = await signer.sign(new TextEncoder().encode(body));
  return { body, signature, keyId: signer.keyId };
}
