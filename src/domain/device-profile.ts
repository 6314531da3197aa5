import type { DeviceProfile } from "./targeting/rules";

/** What a User-Agent string says about a device. null means "the UA did not say". */
export interface ParsedUserAgent {
  readonly osName: string | null;
  readonly osVersion: string | null;
  /** Device vendor, e.g. "Samsung". */
  readonly brand: string | null;
  readonly model: string | null;
}

/** The device fields the SDK sends explicitly (a subset of the check request). */
export interface SdkDeviceFields {
  appVersion: string | null;
  platform: string | null;
  osVersion: string | null;
  brand: string | null;
  model: string | null;
  network: string | null;
  language: string | null;
  attributes: Record<string, string>;
}

/** Geography from the platform (`request.cf`); absent fields are unknown. */
export interface Geo {
  country?: string;
  region?: string;
  city?: string;
}

const OS_NAME_BY_PLATFORM = new Map<string, string>([
  ["ios", "iOS"],
  ["android", "Android"],
  ["harmony", "HarmonyOS"],
  ["harmonyos", "HarmonyOS"],
]);

/** Trims; an empty or missing value becomes null. */
function clean(value: string | null | undefined): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

function sameText(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** `ios`/`android`/`harmony` (any case) become their display names; any other platform is kept as sent. */
export function osNameFromPlatform(platform: string | null): string | null {
  const value = clean(platform);
  if (value === null) return null;
  return OS_NAME_BY_PLATFORM.get(value.toLowerCase()) ?? value;
}

/**
 * Whether a User-Agent could add anything to the profile of `input` (see buildDeviceProfile): only
 * when the SDK left out the platform, OS version, brand or model. When it sent all four, the UA need
 * not even be read.
 */
export function userAgentCanFill(input: SdkDeviceFields): boolean {
  return (
    clean(input.platform) === null ||
    clean(input.osVersion) === null ||
    clean(input.brand) === null ||
    clean(input.model) === null
  );
}

/**
 * Builds the targeting profile of one device from its three sources, in order of trust:
 *
 * 1. `geo` (the platform, `request.cf`) is the only source of country, region and city. A client
 *    attribute named `country` or `city` stays a custom attribute and never becomes geography.
 *    `geo === null` means unknown geography.
 * 2. The SDK's explicit fields. `platform` gives `osName` (`ios` → "iOS", `android` → "Android",
 *    `harmony` → "HarmonyOS", anything else as sent).
 * 3. `ua` only fills a field the SDK did not send. The UA's OS version is used only when the
 *    resolved OS name is the UA's own (so an Android UA never supplies an iOS device's version), and
 *    its model only when the SDK sent no brand or the same brand as the UA.
 *
 * Every string is trimmed and an empty string becomes null. Custom attributes are copied as given
 * (not trimmed). Pure and synchronous; never throws for well-typed input.
 */
export function buildDeviceProfile(input: SdkDeviceFields, geo: Geo | null, ua: ParsedUserAgent | null): DeviceProfile {
  const uaOsName = clean(ua?.osName);
  const uaBrand = clean(ua?.brand);
  const osName = osNameFromPlatform(input.platform) ?? uaOsName;
  const sdkBrand = clean(input.brand);
  const brand = sdkBrand ?? uaBrand;
  const osMatchesUa = osName !== null && uaOsName !== null && sameText(osName, uaOsName);
  const brandMatchesUa = sdkBrand === null || (uaBrand !== null && sameText(sdkBrand, uaBrand));
  return {
    city: clean(geo?.city),
    region: clean(geo?.region),
    country: clean(geo?.country),
    brand,
    model: clean(input.model) ?? (brandMatchesUa ? clean(ua?.model) : null),
    network: clean(input.network),
    osName,
    osVersion: clean(input.osVersion) ?? (osMatchesUa ? clean(ua?.osVersion) : null),
    appVersion: clean(input.appVersion),
    language: clean(input.language),
    custom: { ...input.attributes },
  };
}
