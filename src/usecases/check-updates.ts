import { type Decision, decide } from "../domain/decide";
import { buildDeviceProfile, type SdkDeviceFields } from "../domain/device-profile";
import { AppError } from "../domain/errors";
import type { Snapshot, SnapshotMiniProgram } from "../domain/snapshot";
import { canaryContext, settleAdmission } from "./canary-context";
import type { Deps } from "./ports";

export interface CheckedMiniProgram {
  id: string;
  version: string | null;
  sha256: string | null;
  failed: string[];
}

/** A device check: who the device is, its attributes (SdkDeviceFields) and what it has installed. */
export interface CheckInput extends SdkDeviceFields {
  appId: string;
  env: string;
  deviceId: string;
  userId: string | null;
  nonce: string | null;
  miniPrograms: CheckedMiniProgram[];
}

/** Where the request came from, as only the platform can tell: `request.cf` and the User-Agent. */
export interface RequestOrigin {
  cf: unknown;
  userAgent: string | null;
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

const utf8 = new TextEncoder();

/** How long a signed check answer may be trusted by the client. */
export const CHECK_TTL_MS = 5 * 60 * 1000;

/**
 * Decides every asked mini program for one device from the compiled snapshot only (never the
 * relational store): eligibility, then canary targeting with list shards and time-window admissions
 * fetched as needed. `mode` "lookup" never admits anyone (explain).
 */
export async function decideAll(
  deps: Deps,
  input: CheckInput,
  origin: RequestOrigin,
  mode: "admit" | "lookup",
): Promise<{ snapshot: Snapshot | null; decisions: Decision[] }> {
  const snapshot = await deps.snapshots.get(input.appId, input.env);
  const mps: (SnapshotMiniProgram | undefined)[] = input.miniPrograms.map((m) => snapshot?.miniPrograms[m.id]);
  const device = {
    profile: buildDeviceProfile(input, deps.geoFromCf(origin.cf), deps.parseUserAgent(origin.userAgent)),
    ids: { userId: input.userId, deviceId: input.deviceId },
  };
  const canary = snapshot ? await canaryContext(deps, snapshot, mps, device, deps.clock.now()) : null;
  const explain = mode === "lookup";
  // Synchronous for every mini program; only a decision waiting on a time-window admission awaits.
  const decisions: Decision[] = [];
  const settling: Promise<void>[] = [];
  input.miniPrograms.forEach((m, i) => {
    const q = { appVersion: input.appVersion, installed: m.version, failed: m.failed };
    const mp = canary ? mps[i] : undefined;
    const first = decide(mp, q, canary?.ctx ?? null, explain);
    decisions.push(first);
    if (canary && first.action === "none" && first.pendingAdmission) {
      const settle = async () => {
        decisions[i] = await settleAdmission(deps, mp, q, canary, mode, first);
      };
      settling.push(settle());
    }
  });
  if (settling.length > 0) await Promise.all(settling);
  return { snapshot, decisions };
}

/**
 * Answers a device's update check. An unknown app, environment, mini program or installed version
 * yields `none`, exactly like "no update". Returns the body and the signature over its exact bytes.
 */
export async function checkUpdates(deps: Deps, input: CheckInput, origin: RequestOrigin, packageBaseUrl: string) {
  const signer = deps.signer;
  if (signer === null) throw new AppError("SERVICE_MISCONFIGURED", "The service has no signing key configured.");
  const { decisions } = await decideAll(deps, input, origin, "admit");
  const results: CheckResult[] = decisions.map((decision, i) => {
    const id = input.miniPrograms[i]?.id ?? "";
    if (decision.action === "none") return { id, action: "none" };
    const { release } = decision;
    return {
      id,
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
  const signature = await signer.sign(utf8.encode(body));
  return { body, signature, keyId: signer.keyId };
}
