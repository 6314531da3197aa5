import type { Geo } from "../domain/device-profile";

function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

/**
 * Reads the platform's geography from `request.cf`: `country`, `region` (the name, falling back to
 * `regionCode`) and `city`. Returns null when `cf` is missing (local dev, some test harnesses) or
 * names no geography at all: null means unknown, never a guess from client input.
 */
export function geoFromCf(cf: unknown): Geo | null {
  if (typeof cf !== "object" || cf === null) return null;
  const props = cf as Record<string, unknown>;
  const geo: Geo = {};
  const rawCountry = text(props.country);
  // "XX" is Cloudflare's CF-IPCountry value for "no country data"; treat it as unknown, not a country.
  const country = rawCountry === "XX" ? undefined : rawCountry;
  const region = text(props.region) ?? text(props.regionCode);
  const city = text(props.city);
  if (country !== undefined) geo.country = country;
  if (region !== undefined) geo.region = region;
  if (city !== undefined) geo.city = city;
  return country === undefined && region === undefined && city === undefined ? null : geo;
}
