// Who a targeting reaches among sampled devices (the audience estimate, docs/statistics.md). Pure.
// A sampled device carries keyed hashes instead of ids: list memberships are tested against the
// lists' entries hashed the same way, and a percentage is applied in expectation (basis points /
// 10,000), since a device's real bucket needs its id in the clear.
import { rampPercentage } from "../targeting/bucket";
import { evaluateTargeting, type Targeting } from "../targeting/evaluate";
import type { DeviceProfile } from "../targeting/rules";
import type { ReachProbability } from "./audience-sample";

export interface SampledDevice {
  profile: DeviceProfile;
  /** Keyed hash of the user id, or null. */
  user: string | null;
  /** The mini programs (keys) it asked about; absent in a view already limited to one (SampleView). */
  miniPrograms?: string[];
}

/** What a release reaches: nobody, every device asking (full), or a canary's targeting. */
export type Audience = { kind: "none" } | { kind: "full" } | { kind: "canary"; targeting: Targeting };

/**
 * The probability that a sampled device is offered the release: 0 unless it asks about the mini
 * program (null: the devices given are those that asked, a monitor's view); for a canary, the targeting's steps in order with lists matched by hash, a time window
 * never admitting (its cap bounds what it adds), and a percentage as its share at `now`.
 */
export function reachOf(
  audience: Audience,
  miniProgram: string | null,
  now: number,
  lists: ReadonlyMap<string, ReadonlySet<string>>,
): ReachProbability<SampledDevice> {
  return (device, hash) => {
    if (miniProgram !== null && !device.miniPrograms?.includes(miniProgram)) return 0;
    if (audience.kind !== "canary") return audience.kind === "full" ? 1 : 0;
    const t = audience.targeting;
    let byPercentage = false;
    const result = evaluateTargeting(
      t,
      {
        profile: device.profile,
        ids: { userId: device.user, deviceId: hash },
        now,
        inList: (listId, id) => lists.get(listId)?.has(id) ?? false,
        bucket: () => {
          byPercentage = true;
          return 0;
        },
        admission: "not_admitted",
      },
      false,
    );
    if (result.decision !== "in") return 0;
    if (!byPercentage || t.percentage === null) return 1;
    const p = t.percentage;
    const bp = p.ramp === null ? p.basisPoints : rampPercentage(p.ramp, now, p.basisPoints);
    return bp / 10_000;
  };
}
