import type { FieldError } from "./errors";
import { TOKEN_ACCESS, type TokenScope } from "./permissions";

/** API token secrets: `upd_` and 32 lower-case letters or digits (160 bits). */
export const TOKEN_SECRET = /^upd_[0-9a-z]{32}$/;
/** Invite secrets: `updi_` and 32 lower-case letters or digits; exchanged once for a first token. */
export const INVITE_SECRET = /^updi_[0-9a-z]{32}$/;

const DAY_MS = 86_400_000;
/** A token's lifetime when none is asked for. */
export const DEFAULT_TOKEN_TTL_MS = 90 * DAY_MS;
/** The longest lifetime a token may have (only an admin's service-account tokens may have none). */
export const MAX_TOKEN_TTL_MS = 365 * DAY_MS;
/** How long an invite can be exchanged. */
export const INVITE_TTL_MS = 7 * DAY_MS;
/** How long the old secret of a rotated token keeps working, when the caller does not say. */
export const DEFAULT_ROTATION_OVERLAP_S = 3600;
/** The longest overlap a rotation may ask for. */
export const MAX_ROTATION_OVERLAP_S = 86_400;
/** A token's last-use time is written at most this often. */
export const LAST_USE_RESOLUTION_MS = 60_000;

/** The part of a secret shown in token lists: `upd_` and its first 8 characters. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, 12);
}

/**
 * The expiry a new token gets: `asked` (ms since the epoch), null for none, undefined for the
 * default. Only a service account's token made by an admin may have none. Returns the field
 * error when the expiry is in the past or more than a year away.
 */
export function tokenExpiry(
  asked: number | null | undefined,
  now: number,
  mayBeUnlimited: boolean,
): { expiresAt: number | null } | { error: FieldError } {
  if (asked === undefined) return { expiresAt: now + DEFAULT_TOKEN_TTL_MS };
  if (asked === null) {
    return mayBeUnlimited
      ? { expiresAt: null }
      : {
          error: {
            pointer: "/expiresAt",
            message: "Only a service account's token made by an admin may never expire.",
          },
        };
  }
  if (asked <= now) return { error: { pointer: "/expiresAt", message: "Must be in the future." } };
  if (asked > now + MAX_TOKEN_TTL_MS) {
    return { error: { pointer: "/expiresAt", message: "Must be at most one year away." } };
  }
  return { expiresAt: asked };
}

/** True when every right `inner` leaves is also left by `outer`. */
export function scopeWithin(inner: TokenScope, outer: TokenScope): boolean {
  if (TOKEN_ACCESS.indexOf(inner.access) > TOKEN_ACCESS.indexOf(outer.access)) return false;
  if (outer.miniProgramIds === null) return true;
  if (inner.miniProgramIds === null) return false;
  return inner.miniProgramIds.every((id) => outer.miniProgramIds?.includes(id));
}

/**
 * The key failed authentications are counted under: the client address, with an IPv6 address
 * cut to its /64 (one subscriber usually holds a whole /64). "unknown" without an address.
 */
export function clientKey(address: string | null | undefined): string {
  const a = (address ?? "").trim().toLowerCase();
  if (a === "") return "unknown";
  if (!a.includes(":")) return `ip:${a.slice(0, 45)}`;
  const [head = "", tail] = a.split("::", 2);
  const groups = head === "" ? [] : head.split(":");
  if (tail !== undefined) {
    const rest = tail === "" ? [] : tail.split(":");
    while (groups.length + rest.length < 8) groups.push("0");
    groups.push(...rest);
  }
  return `ip6:${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
