#!/usr/bin/env node
// The `updraft` CLI (docs/cli.md). Its sources are TypeScript run through Node's type stripping.
import { main } from "../src/main.ts";

// Output piped into a reader that stops early (`| head`): end quietly instead of with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
