// The config file ({server, token, key}) and how the effective server, token and publisher key are
// chosen from flags, environment variables and that file (docs/cli.md#configuration).
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CliError, describeSystemError, EXIT, localError, usageError } from "./errors.ts";
import type { Io } from "./io.ts";

export interface ConfigFile {
  /** Base URL of the Updraft deployment, e.g. https://updraft.example.com. */
  server?: string;
  /** The API token `login` verified for `server`. */
  token?: string;
  /** Absolute path of the default publisher key (PKCS#8 PEM) that `publish` signs with. */
  key?: string;
}

/** $UPDRAFT_CONFIG, else $XDG_CONFIG_HOME/updraft/config.json, else ~/.config/updraft/config.json. */
export function configPath(io: Io): string {
  const explicit = io.env.UPDRAFT_CONFIG;
  if (explicit !== undefined && explicit !== "") return resolve(io.cwd, explicit);
  const xdg = io.env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && xdg !== "" ? resolve(io.cwd, xdg) : join(io.home, ".config");
  return join(base, "updraft", "config.json");
}

/** The runs already warned about a config file others can read (one warning per run). */
const warned = new WeakSet<Io>();

/** The config file's content ({} when there is none yet). */
export function readConfig(io: Io): ConfigFile {
  const path = configPath(io);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw localError(`cannot read the config file ${path}: ${describeSystemError(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw localError(`the config file ${path} is not JSON; fix or delete it`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw localError(`the config file ${path} is not a JSON object; fix or delete it`);
  }
  const v = value as Record<string, unknown>;
  const config: ConfigFile = {};
  if (typeof v.server === "string") config.server = v.server;
  if (typeof v.token === "string") config.token = v.token;
  if (typeof v.key === "string") config.key = v.key;
  if (config.token !== undefined && process.platform !== "win32" && !warned.has(io)) {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      warned.add(io);
      io.stderr.write(
        `warning: ${path} holds a token and is readable by others (mode ${mode.toString(8)}); run chmod 600 on it\n`,
      );
    }
  }
  return config;
}

/**
 * Replaces the config file atomically (a temporary file in the same directory, renamed over it),
 * readable by its owner only (0600). Missing directories are created 0700; an existing one is left
 * as it is.
 */
export function writeConfig(io: Io, config: ConfigFile): string {
  const path = configPath(io);
  const dir = dirname(path);
  const temp = join(dir, `.config.json.${process.pid}.${Math.floor(io.now())}.tmp`);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(temp, "wx", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(config, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // nothing was written
    }
    throw localError(`cannot write the config file ${path}: ${describeSystemError(error)}`);
  }
  return path;
}

/** A server URL as the CLI keeps it: http(s), no query or fragment, no trailing slash. */
export function normalizeServer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usageError(`invalid server URL "${value}": expected something like https://updraft.example.com`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw usageError(`invalid server URL "${value}": only http and https are supported`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw usageError(`invalid server URL "${value}": no query, fragment or credentials`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

export interface Settings {
  /** The effective server, or null when none is set anywhere. */
  server: string | null;
  /** The effective token, or null. */
  token: string | null;
  /** Where the token came from (for messages; never the token itself). */
  tokenSource: "UPDRAFT_TOKEN" | "config" | null;
  /** The default publisher key file, or null. */
  key: string | null;
  config: ConfigFile;
}

/**
 * Flags win over environment variables, which win over the config file. The config file's token is
 * used only with the config file's server: a token is never sent to a server it was not verified for.
 */
export function resolveSettings(io: Io, flags: { server?: string | undefined }): Settings {
  const config = readConfig(io);
  const fromFlag = flags.server;
  const fromEnv = io.env.UPDRAFT_SERVER;
  const raw = fromFlag ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : config.server);
  const server = raw === undefined ? null : normalizeServer(raw);
  const envToken = io.env.UPDRAFT_TOKEN;
  let token: string | null = null;
  let tokenSource: Settings["tokenSource"] = null;
  if (envToken !== undefined && envToken !== "") {
    token = envToken;
    tokenSource = "UPDRAFT_TOKEN";
  } else if (config.token !== undefined && config.server !== undefined && server === safeNormalize(config.server)) {
    token = config.token;
    tokenSource = "config";
  }
  const envKey = io.env.UPDRAFT_KEY;
  const key = envKey !== undefined && envKey !== "" ? resolve(io.cwd, envKey) : (config.key ?? null);
  return { server, token, tokenSource, key, config };
}

function safeNormalize(value: string): string | null {
  try {
    return normalizeServer(value);
  } catch {
    return null;
  }
}

/** The server and token an API command needs, or a usage error saying how to provide them. */
export function requireCredentials(settings: Settings): { server: string; token: string } {
  if (settings.server === null) {
    throw new CliError(
      EXIT.USAGE,
      "no server: run `updraft login --server <url>`, or pass --server or set UPDRAFT_SERVER",
    );
  }
  if (settings.token === null) {
    throw new CliError(
      EXIT.USAGE,
      `not logged in to ${settings.server}: run \`updraft login --server ${settings.server}\` or set UPDRAFT_TOKEN`,
    );
  }
  return { server: settings.server, token: settings.token };
}
