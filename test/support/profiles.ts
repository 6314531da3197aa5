import type { DeviceProfile } from "../../src/domain/targeting/rules";

/** A device profile that says nothing: every attribute unknown. Spread it and set what a test needs. */
export const EMPTY_PROFILE: DeviceProfile = Object.freeze({
  city: null,
  region: null,
  country: null,
  brand: null,
  model: null,
  network: null,
  osName: null,
  osVersion: null,
  appVersion: null,
  language: null,
  custom: Object.freeze({}) as Record<string, string>,
});
