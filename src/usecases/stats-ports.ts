// Ports of device events and release statistics (docs/statistics.md): what travels on the stats
// Queue, the per-release monitor that counts it, and what the relational store keeps for history.
import type { HealthGateResult, HealthPolicy } from "../domain/stats/health-gate";
import type { DeviceProfile } from "../domain/targeting/rules";

/** One device event as it travels to its release's monitor: keyed hashes, never an id in the clear. */
export interface EventRecord {
  /** Event key: keyed hash of (device id, event id), 16 hex digits; the monitor counts a key once. */
  k: string;
  /** Device hash: keyed hash of the device id, 16 hex digits (distinct devices). */
  d: string;
  /** The event type (one of EVENT_TYPES). */
  t: string;
  /** When it happened on the device (ms since the epoch). */
  at: number;
  /** The version the device reported. */
  v: string;
  /** The failure code the device reported, or null. */
  e: string | null;
}

/** Events of one release, as reported for one (app key, environment, mini program key). */
export interface EventGroup {
  releaseId: string;
  appKey: string;
  env: string;
  miniProgram: string;
  events: EventRecord[];
}

/** Checks that offered a release, in one isolate over one flush. */
export interface OfferGroup {
  releaseId: string;
  /** Checks whose answer offered it. */
  count: number;
  /** When the flush window started (ms): where the count lands. */
  at: number;
  /** Serialized HyperLogLog (base64) of the devices offered it. */
  devices: string;
}

/** What a sampled device looks like to targeting (docs/statistics.md): keyed hashes, never ids. */
export interface SampledProfile {
  profile: DeviceProfile;
  /** Keyed hash of the user id, or null without one. */
  user: string | null;
  /** The mini programs it asked about (keys), at most SAMPLE_MINI_PROGRAMS. */
  miniPrograms: string[];
}

/** Installed versions seen in checks of one target, per mini program and version. */
export interface InstalledGroup {
  miniProgram: string;
  version: string;
  /** Checks that reported it. */
  count: number;
  /** Serialized HyperLogLog (base64) of the devices that reported it. */
  devices: string;
}

/** What checks of one target (app, environment) add to its audience monitor. */
export interface AudienceGroup {
  appKey: string;
  env: string;
  at: number;
  /** Sampled devices: [device hash, seen at, profile]. */
  sample: [string, number, SampledProfile][];
  installed: InstalledGroup[];
}

/**
 * What one Queue message carries. `id` is random per message: what is not deduplicated by event key
 * (offer counts, installed counts) is applied once per message id, so a redelivered message counts once.
 */
export interface StatsMessage {
  kind: "stats";
  id?: string;
  groups: EventGroup[];
  offers?: OfferGroup[];
  audience?: AudienceGroup[];
}

/** Where a release is delivered, as devices name it: what its events must match to be counted. */
export interface ReleaseAddress {
  releaseId: string;
  workspaceId: string;
  miniProgramId: string;
  appKey: string;
  env: string;
  miniProgram: string;
  version: string;
}

/** Counts of one bucket (a minute or an hour): metric name → count. */
export type MetricCounts = Record<string, number>;

/** One bucket of a release's statistics. */
export interface StatsBucket {
  /** Start of the bucket, ms since the epoch. */
  at: number;
  counts: MetricCounts;
}

/** Hourly counts as the monitor hands them to the relational store. */
export interface HourlyRow {
  hour: number;
  metric: string;
  count: number;
  /** Serialized HyperLogLog of the hour's distinct devices for this metric, or null. */
  devices: Uint8Array | null;
}

export interface StatsStore {
  /** The addresses of releases by id (unknown ids are left out). */
  releaseAddresses(releaseIds: readonly string[]): Promise<ReleaseAddress[]>;
  /** Upserts hourly rows of a release (the monitor's rollup). */
  putHourlyStats(releaseId: string, rows: readonly HourlyRow[]): Promise<void>;
  /** Hourly rows of a release with `from <= hour < to`. */
  hourlyStats(releaseId: string, from: number, to: number): Promise<HourlyRow[]>;
}

/** A health gate as the monitor holds it: the policy and the release's state it applies to. */
export interface GateState {
  policy: HealthPolicy;
  lastActionAt: number | null;
  last: (HealthGateResult & { at: number }) | null;
}
