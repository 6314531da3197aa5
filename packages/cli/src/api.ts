// The admin API client: one request function that sends the bearer token, decodes JSON answers and
// turns every failure into a CliError with one line (problem+json: `error: CODE (status): detail`).
import { CliError, EXIT } from "./errors.ts";
import type { Io } from "./io.ts";

export const USER_AGENT = "updraft-cli/0.1.0";
const DEFAULT_TIMEOUT_MS = 60_000;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body (sent as application/json). */
  json?: unknown;
  /** A raw body; with a stream, `headers` should carry its content-length. */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Abandon the request after this long (default 60 s). */
  timeoutMs?: number;
  /** Send no bearer token (public routes such as GET /v1/keys). */
  anonymous?: boolean;
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** One field error of a problem: a JSON pointer into the request and what is wrong there. */
interface FieldError {
  pointer?: unknown;
  message?: unknown;
}

/** Text from a server, made safe for one terminal line: no control characters, no line breaks. */
export function oneLine(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? " " : char;
  }
  return out.replace(/\s+/g, " ").trim();
}

/** Whether a decoded body is an RFC 9457 problem as Updraft sends them (a `code` and a `status`). */
export function isProblem(body: unknown): body is Record<string, unknown> & { code: string } {
  return typeof body === "object" && body !== null && typeof (body as Record<string, unknown>).code === "string";
}

/**
 * The one line that shows a problem: `error: <code> (<status>): <detail>`, then the first field
 * error's pointer and message when there are any, and the request id for a server failure (5xx),
 * which is what to quote when reporting it.
 */
export function problemLine(status: number, problem: Record<string, unknown>): string {
  const code = oneLine(String(problem.code));
  const detail = typeof problem.detail === "string" ? oneLine(problem.detail) : oneLine(String(problem.title ?? ""));
  let line = `error: ${code} (${status}): ${detail}`;
  const errors = Array.isArray(problem.errors) ? (problem.errors as FieldError[]) : [];
  const first = errors[0];
  if (first !== undefined) {
    const pointer = typeof first.pointer === "string" && first.pointer !== "" ? first.pointer : "/";
    const message = typeof first.message === "string" ? `: ${oneLine(first.message)}` : "";
    const more = errors.length > 1 ? `; ${errors.length - 1} more` : "";
    line += ` (${oneLine(pointer)}${message}${more})`;
  }
  if (status >= 500 && typeof problem.requestId === "string") line += ` (request ${oneLine(problem.requestId)})`;
  return line;
}

function networkMessage(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  }
  const cause = error instanceof Error ? (error as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error && cause.message !== "") return oneLine(cause.message);
  if (cause !== undefined && typeof (cause as { code?: unknown }).code === "string")
    return (cause as { code: string }).code;
  return error instanceof Error ? oneLine(error.message) : String(error);
}

/** An admin API session: a server and, unless only public routes are used, a token. */
export class Api {
  readonly server: string;
  readonly #token: string | null;
  readonly #io: Io;

  constructor(io: Io, server: string, token: string | null) {
    this.#io = io;
    this.server = server;
    this.#token = token;
  }

  url(path: string, query?: RequestOptions["query"]): string {
    const url = new URL(this.server + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { accept: "application/json", "user-agent": USER_AGENT };
    if (!options.anonymous && this.#token !== null) headers.authorization = `Bearer ${this.#token}`;
    let body: RequestInit["body"];
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      body = options.body as RequestInit["body"];
    }
    Object.assign(headers, options.headers);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers,
      body,
      redirect: "error",
      signal: AbortSignal.timeout(timeoutMs),
    };
    if (body instanceof ReadableStream) init.duplex = "half";
    let response: Response;
    let text: string;
    try {
      response = await this.#io.fetch(this.url(path, options.query), init);
      text = await response.text();
    } catch (error) {
      throw new CliError(EXIT.SERVER, `error: cannot reach ${this.server}: ${networkMessage(error, timeoutMs)}`);
    }
    let decoded: unknown;
    let isJson = false;
    try {
      decoded = text === "" ? null : JSON.parse(text);
      isJson = text !== "";
    } catch {
      decoded = text;
    }
    if (!response.ok) {
      const exitCode = response.status >= 500 ? EXIT.SERVER : EXIT.REFUSED;
      if (isJson && isProblem(decoded)) throw new CliError(exitCode, problemLine(response.status, decoded), decoded);
      const snippet = oneLine(text).slice(0, 200);
      throw new CliError(
        exitCode,
        `error: HTTP ${response.status} from ${method} ${path}${snippet === "" ? "" : `: ${snippet}`}`,
      );
    }
    if (!isJson) {
      throw new CliError(EXIT.SERVER, `error: ${method} ${path} answered ${response.status} without a JSON body`);
    }
    return { status: response.status, body: decoded as T, headers: response.headers };
  }

  async get<T>(path: string, query?: RequestOptions["query"]): Promise<T> {
    return (await this.request<T>("GET", path, { query })).body;
  }

  async post<T>(path: string, json: unknown): Promise<T> {
    return (await this.request<T>("POST", path, { json })).body;
  }

  async put<T>(path: string, json: unknown): Promise<T> {
    return (await this.request<T>("PUT", path, { json })).body;
  }
}

/** A path segment, escaped (ids and keys are plain, but a user may type anything). */
export const seg = (value: string) => encodeURIComponent(value);
