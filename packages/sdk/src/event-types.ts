// The device events' wire format (`POST /v1/events`), shared by the client that sends them
// (events.ts) and the service that validates them (src/domain/stats/event-batch.ts): one list of
// types, one event shape, one set of bounds. Pure data: no I/O.

/** What a device reports about one version of one mini program (closed list). */
export const EVENT_TYPES = [
  "download_ok",
  "download_failed",
  "install_ok",
  "install_failed",
  "launch_ok",
  "launch_failed",
  "rolled_back",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One event as sent (exactly these fields: the service refuses any other). */
export interface DeviceEvent {
  /** Chosen by the device, unique per device (the client: 16 random bytes, base64url): counted once. */
  id: string;
  type: EventType;
  /** The mini program's key, as the client sends it in checks. */
  miniProgram: string;
  version: string;
  /** The releaseId of the check result that offered `version`. */
  releaseId: string;
  /** When it happened, by the device's clock (Unix ms). */
  at: number;
  /** A short code for a failure (`[A-Z0-9_]`, at most 64), else null. */
  errorCode: string | null;
}

/** What the service accepts of one request (docs/sdk.md, "Device events"). */
export const EVENT_WIRE_LIMITS = {
  /** Events per request. */
  events: 100,
  /** Bytes of one request body. */
  bodyBytes: 64 * 1024,
  /** Oldest event accepted (by the service's clock): the window in which a duplicate id is still recognised. */
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
  /** Device clocks run ahead: an event up to this far in the future is accepted. */
  maxAheadMs: 24 * 60 * 60 * 1000,
} as const;
