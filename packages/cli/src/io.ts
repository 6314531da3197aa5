// Everything the CLI touches outside its own code, in one injectable object: tests and an
// end-to-end harness drive main(argv, io) in-process with their own writers, environment and fetch.
import { homedir } from "node:os";

/** Where output goes: a TTY gets progress bars, anything else plain lines. */
export interface Writer {
  write(text: string): void;
  isTTY?: boolean;
  columns?: number;
}

export interface Io {
  stdout: Writer;
  stderr: Writer;
  /** The environment: UPDRAFT_CONFIG, UPDRAFT_SERVER, UPDRAFT_TOKEN, UPDRAFT_KEY, XDG_CONFIG_HOME. */
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
  /** Relative file arguments are resolved against this directory. */
  cwd: string;
  /** The home directory (default config location: ~/.config/updraft/config.json). */
  home: string;
  now: () => number;
  /** Whether standard input is a terminal (login then prompts instead of reading it). */
  stdinIsTTY: boolean;
  /** All of standard input as text (login reads the token from it). */
  readStdin: () => Promise<string>;
  /** Asks for a secret on the terminal without echoing it. */
  promptSecret: (prompt: string) => Promise<string>;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads one line from the terminal with echo off; Ctrl-C or Ctrl-D abandons it. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (error: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (error === null) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return done(null);
        if (char === "\u0003" || char === "\u0004") return done(new Error("cancelled"));
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}

/** The real process's streams, environment and network. */
export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    fetch: globalThis.fetch,
    cwd: process.cwd(),
    home: homedir(),
    now: () => Date.now(),
    stdinIsTTY: process.stdin.isTTY === true,
    readStdin: () => readAll(process.stdin),
    promptSecret: promptHidden,
  };
}
