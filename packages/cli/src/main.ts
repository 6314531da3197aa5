// The `updraft` command line (docs/cli.md). main(argv, io) runs one command and returns its exit
// code; it never exits the process and never throws, so it can be driven in-process with injected
// writers, environment and fetch.
import { Command, CommanderError } from "commander";
import { registerAuth } from "./commands/auth.ts";
import { registerExplain } from "./commands/explain.ts";
import { registerKeys } from "./commands/keys.ts";
import { registerPack } from "./commands/pack.ts";
import { registerPublish } from "./commands/publish.ts";
import { registerReleases } from "./commands/releases.ts";
import { CliError, describeSystemError, EXIT } from "./errors.ts";
import { type Io, processIo } from "./io.ts";
import { PackError } from "./pack.ts";
import { Runtime } from "./runtime.ts";

export { EXIT } from "./errors.ts";
export type { Io, Writer } from "./io.ts";

export const VERSION = "0.1.0";

function buildProgram(rt: Runtime): Command {
  const { io } = rt;
  const program = new Command("updraft")
    .description("Publisher CLI of Updraft: keys, deterministic packs, signed uploads and release moves")
    // -V only: `--version` is the option of publish, release create and keys sign (see main()).
    .version(VERSION, "-V", "print the CLI's version")
    .option("--server <url>", "the Updraft server (overrides UPDRAFT_SERVER and the config file)")
    .option("--json", "print the API's JSON (or a JSON result) on stdout instead of text")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      getOutHelpWidth: () => io.stdout.columns ?? 100,
      getErrHelpWidth: () => io.stderr.columns ?? 100,
    })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 refused by the server (4xx), 2 usage error, 3 server failure or unreachable,\n" +
        "4 local failure (files), 5 verification failed. Reference: docs/cli.md",
    );
  registerAuth(program, rt);
  registerKeys(program, rt);
  registerPack(program, rt);
  registerPublish(program, rt);
  registerReleases(program, rt);
  registerExplain(program, rt);
  return program;
}

/** Exit code and stderr line for anything a command threw. */
function report(io: Io, json: boolean, error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed the help, the version or its one-line error already.
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT.OK;
    if (error.code === "commander.help") return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    return EXIT.USAGE;
  }
  if (error instanceof CliError) {
    if (json && error.json !== undefined) io.stdout.write(`${JSON.stringify(error.json, null, 2)}\n`);
    const line = error.message.startsWith("error: ") ? error.message : `error: ${error.message}`;
    io.stderr.write(`${line}\n`);
    return error.exitCode;
  }
  if (error instanceof PackError) {
    io.stderr.write(`error: cannot pack: ${error.message}\n`);
    return EXIT.LOCAL;
  }
  // A file system error nobody anticipated (a permission, a full disk), or a bug: still one line.
  const system = error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string";
  io.stderr.write(`error: ${system ? "" : "unexpected failure: "}${describeSystemError(error)}\n`);
  return EXIT.LOCAL;
}

/**
 * Runs `updraft <argv>` and returns the exit code (docs/cli.md#exit-codes). `io` replaces any part
 * of the process's streams, environment, working directory, clock and fetch.
 */
export async function main(argv: readonly string[], io: Partial<Io> = {}): Promise<number> {
  const full: Io = { ...processIo(), ...io };
  const rt = new Runtime(full);
  const program = buildProgram(rt);
  // `updraft --version` alone still prints the version; after a command, --version is that command's.
  const args = argv.length === 1 && argv[0] === "--version" ? ["-V"] : [...argv];
  try {
    await program.parseAsync(args, { from: "user" });
    return EXIT.OK;
  } catch (error) {
    return report(full, program.opts().json === true, error);
  }
}
