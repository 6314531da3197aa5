// What every command needs from main(): the injected I/O, the global options (--server, --json),
// the resolved settings and an API session.
import { resolve } from "node:path";
import type { Command } from "commander";
import { Api } from "./api.ts";
import { requireCredentials, resolveSettings, type Settings } from "./config.ts";
import { usageError } from "./errors.ts";
import type { Io } from "./io.ts";
import { emit } from "./output.ts";

export interface GlobalOptions {
  server?: string;
  json?: boolean;
}

export class Runtime {
  readonly io: Io;

  constructor(io: Io) {
    this.io = io;
  }

  globals(cmd: Command): GlobalOptions {
    return cmd.optsWithGlobals() as GlobalOptions;
  }

  json(cmd: Command): boolean {
    return this.globals(cmd).json === true;
  }

  settings(cmd: Command): Settings {
    return resolveSettings(this.io, { server: this.globals(cmd).server });
  }

  /** An authenticated admin API session (a usage error when no server or token is configured). */
  api(cmd: Command): Api {
    const { server, token } = requireCredentials(this.settings(cmd));
    return new Api(this.io, server, token);
  }

  /** The configured server without a token (public routes). */
  publicApi(cmd: Command): Api {
    const { server } = this.settings(cmd);
    if (server === null) throw usageError("no server: pass --server, set UPDRAFT_SERVER or run `updraft login`");
    return new Api(this.io, server, null);
  }

  /** A file argument, relative to the working directory. */
  path(file: string): string {
    return resolve(this.io.cwd, file);
  }

  emit(cmd: Command, value: unknown, human: () => string | readonly string[]): void {
    emit(this.io, this.json(cmd), value, human);
  }
}

/** Commander's collector for repeatable options. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];
