// Exit codes and the one error type commands throw. main() turns every failure into one line on
// stderr and one of these codes; nothing else ever reaches the user (no stack traces).

/** The documented exit codes (docs/cli.md#exit-codes). */
export const EXIT = {
  /** Done. */
  OK: 0,
  /** The server refused the request: a 4xx problem (validation, permission, conflict, …). */
  REFUSED: 1,
  /** The command line is wrong: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /** The server failed or could not be reached: a 5xx answer, a network error, a timeout, a non-JSON answer. */
  SERVER: 3,
  /** Something on this machine failed: a missing or unreadable file, a refused directory, a file that exists. */
  LOCAL: 4,
  /** A verification failed: a key set whose signature, version or expiry does not hold. */
  VERIFY: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with the exit code it ends the command with and the one line that explains it. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  /**
   * What --json prints on stdout for this failure: the server's problem+json body, or a result
   * object such as a failed verification's; undefined prints nothing.
   */
  readonly json: unknown;

  constructor(exitCode: ExitCode, message: string, json?: unknown) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.json = json;
  }
}

export const usageError = (message: string) => new CliError(EXIT.USAGE, message);
export const localError = (message: string) => new CliError(EXIT.LOCAL, message);

/** A Node system error's message, short: "ENOENT: no such file or directory, open 'x'" → "no such file or directory". */
export function describeSystemError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = error.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "");
    return code === undefined ? message : `${message} (${code})`;
  }
  return String(error);
}
