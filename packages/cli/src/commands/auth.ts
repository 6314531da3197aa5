// updraft login / logout: verify a token against the server and keep it in the config file.
import type { Command } from "commander";
import { Api } from "../api.ts";
import { configPath, normalizeServer, readConfig, writeConfig } from "../config.ts";
import { usageError } from "../errors.ts";
import { note } from "../output.ts";
import type { Runtime } from "../runtime.ts";

interface Workspace {
  id: string;
  name: string;
  requireSignedUploads?: boolean;
}

export function registerAuth(program: Command, rt: Runtime): void {
  const { io } = rt;

  program
    .command("login")
    .summary("verify an API token and store it in the config file")
    .description(
      "verify an API token against the server and store it with the server in the config file (mode 0600); " +
        "without --token the token is read from stdin (or asked for, hidden, on a terminal)",
    )
    .option("--token <token>", "the API token (visible in the process list: prefer stdin)")
    .action(async (opts: { token?: string }, cmd: Command) => {
      const config = readConfig(io);
      const flag = rt.globals(cmd).server;
      const env = io.env.UPDRAFT_SERVER;
      const raw = flag ?? (env !== undefined && env !== "" ? env : config.server);
      if (raw === undefined) throw usageError("no server: pass --server <url> (or set UPDRAFT_SERVER)");
      const server = normalizeServer(raw);
      let token = opts.token;
      if (token === undefined) {
        token = io.stdinIsTTY ? await io.promptSecret(`API token for ${server}: `) : await io.readStdin();
      }
      token = token.trim();
      if (token === "") throw usageError("no token given: pass --token, or pipe it on stdin");
      if (/\s/.test(token)) throw usageError("the token holds whitespace: give exactly one token");
      // A cheap authenticated read every token may do (workspace:read): proves the token works here.
      const workspace = await new Api(io, server, token).get<Workspace>("/v1/admin/workspace");
      const path = writeConfig(io, { ...config, server, token });
      if (io.env.UPDRAFT_TOKEN) note(io, "note: UPDRAFT_TOKEN is set and overrides the stored token");
      rt.emit(cmd, { server, workspace, config: path }, () => [
        `Logged in to ${server}: workspace "${workspace.name}" (${workspace.id}).`,
        `Token stored in ${path}.`,
      ]);
    });

  program
    .command("logout")
    .summary("remove the stored token")
    .description("remove the stored token from the config file (the token itself stays valid until revoked)")
    .action((_opts: unknown, cmd: Command) => {
      const config = readConfig(io);
      const path = configPath(io);
      const had = config.token !== undefined;
      if (had) {
        delete config.token;
        writeConfig(io, config);
      }
      if (io.env.UPDRAFT_TOKEN) note(io, "note: UPDRAFT_TOKEN is still set in the environment");
      rt.emit(cmd, { loggedOut: had, config: path }, () =>
        had
          ? `Removed the token${config.server ? ` for ${config.server}` : ""} from ${path}.`
          : `No token stored in ${path}.`,
      );
    });
}
