// A batch of device events (issue #16, `POST /v1/events`): what one is, and its strict validation.
// Pure: the request path calls it before anything is buffered, so a bad batch is refused whole with
// a problem per field (problem+json) and nothing of it is counted.
import { type DeviceEvent, EVENT_TYPES, EVENT_WIRE_LIMITS, type EventType } from "@updraft/sdk/event-types";
import { type FieldError, MAX_FIELD_ERRORS } from "../errors";

export { type DeviceEvent, EVENT_TYPES, EVENT_WIRE_LIMITS, type EventType } from "@updraft/sdk/event-types";

export interface EventBatch {
  appId: string;
  env: string;
  deviceId: string;
  events: DeviceEvent[];
}

export const EVENT_LIMITS = {
  events: EVENT_WIRE_LIMITS.events,
  id: 64,
  appId: 100,
  env: 32,
  deviceId: 128,
  miniProgram: 128,
  version: 64,
  releaseId: 64,
  errorCode: 64,
  maxAgeMs: EVENT_WIRE_LIMITS.maxAgeMs,
  maxAheadMs: EVENT_WIRE_LIMITS.maxAheadMs,
} as const;

const ID = /^[A-Za-z0-9_-]+$/;
const ERROR_CODE = /^[A-Z0-9_]+$/;
const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);
// Printable ASCII without quotes, backslashes or spaces: keys, versions and ids as devices send them.
const TOKEN = /^[!#-[\]-~]+$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function text(value: unknown, max: number, pointer: string, problems: FieldError[], pattern: RegExp = TOKEN): string {
  if (typeof value !== "string" || value.length < 1 || value.length > max || !pattern.test(value)) {
    problems.push({
      pointer,
      message: `Must be 1 to ${max} characters of ${pattern === ID ? "[A-Za-z0-9_-]" : "visible ASCII"}.`,
    });
    return "";
  }
  return value;
}

/** Refuses fields the format does not have (a typo must not be silently ignored). */
function onlyKeys(value: Record<string, unknown>, keys: readonly string[], pointer: string, problems: FieldError[]) {
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) problems.push({ pointer: `${pointer}/${k}`, message: "Is not a field of this object." });
  }
}

const EVENT_KEYS = ["id", "type", "miniProgram", "version", "releaseId", "at", "errorCode"] as const;

function parseEvent(value: unknown, at: string, now: number, problems: FieldError[]): DeviceEvent | null {
  if (!isObject(value)) {
    problems.push({ pointer: at, message: "Must be an object." });
    return null;
  }
  onlyKeys(value, EVENT_KEYS, at, problems);
  const before = problems.length;
  const type = value.type;
  if (typeof type !== "string" || !TYPES.has(type)) {
    problems.push({ pointer: `${at}/type`, message: `Must be one of ${EVENT_TYPES.join(", ")}.` });
  }
  const time = value.at;
  if (
    !Number.isSafeInteger(time) ||
    (time as number) < now - EVENT_LIMITS.maxAgeMs ||
    (time as number) > now + EVENT_LIMITS.maxAheadMs
  ) {
    problems.push({ pointer: `${at}/at`, message: "Must be a time in ms since the epoch, at most 7 days old." });
  }
  const code = value.errorCode ?? null;
  const event: DeviceEvent = {
    id: text(value.id, EVENT_LIMITS.id, `${at}/id`, problems, ID),
    type: type as EventType,
    miniProgram: text(value.miniProgram, EVENT_LIMITS.miniProgram, `${at}/miniProgram`, problems),
    version: text(value.version, EVENT_LIMITS.version, `${at}/version`, problems),
    releaseId: text(value.releaseId, EVENT_LIMITS.releaseId, `${at}/releaseId`, problems),
    at: time as number,
    errorCode: code === null ? null : text(code, EVENT_LIMITS.errorCode, `${at}/errorCode`, problems, ERROR_CODE),
  };
  return problems.length === before ? event : null;
}

/**
 * The batch in a parsed JSON body, or every problem with it (JSON pointers into the body). `now`
 * bounds the events' times. Two events of a batch with the same id are one event: the later copy
 * is dropped here. At most MAX_FIELD_ERRORS problems are returned.
 */
export function parseEventBatch(value: unknown, now: number): { batch: EventBatch } | { problems: FieldError[] } {
  const problems: FieldError[] = [];
  if (!isObject(value)) return { problems: [{ pointer: "", message: "Must be an object." }] };
  onlyKeys(value, ["appId", "env", "deviceId", "events"], "", problems);
  const appId = text(value.appId, EVENT_LIMITS.appId, "/appId", problems);
  const env = text(value.env, EVENT_LIMITS.env, "/env", problems);
  const deviceId = text(value.deviceId, EVENT_LIMITS.deviceId, "/deviceId", problems);
  const list = value.events;
  if (!Array.isArray(list) || list.length < 1 || list.length > EVENT_LIMITS.events) {
    problems.push({ pointer: "/events", message: `Must be a list of 1 to ${EVENT_LIMITS.events} events.` });
    return { problems: problems.slice(0, MAX_FIELD_ERRORS) };
  }
  const events: DeviceEvent[] = [];
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const event = parseEvent(item, `/events/${i}`, now, problems);
    if (event !== null && !seen.has(event.id)) {
      seen.add(event.id);
      events.push(event);
    }
  });
  if (problems.length > 0) return { problems: problems.slice(0, MAX_FIELD_ERRORS) };
  return { batch: { appId, env, deviceId, events } };
}
