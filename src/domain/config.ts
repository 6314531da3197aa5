import type { DeliveredConfig } from "./snapshot";

/** A partial configuration as stored on a mini program (global) or a release (override). */
export type ConfigPatch = Partial<DeliveredConfig>;

export const EMPTY_CONFIG: DeliveredConfig = {
  networkAllowlist: [],
  internalTesters: [],
  payment: {},
  switches: {},
  features: [],
};

/**
 * The configuration delivered for a release: each field the release sets replaces the mini
 * program's global value, except `switches` and `payment`, which merge key by key (release wins).
 */
export function mergeConfig(global: ConfigPatch, release: ConfigPatch): DeliveredConfig {
  return {
    networkAllowlist: release.networkAllowlist ?? global.networkAllowlist ?? [],
    internalTesters: release.internalTesters ?? global.internalTesters ?? [],
    payment: { ...global.payment, ...release.payment },
    switches: { ...global.switches, ...release.switches },
    features: release.features ?? global.features ?? [],
  };
}
