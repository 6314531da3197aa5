// Output helpers: --json or human lines on stdout, notes and progress on stderr.
import type { Io, Writer } from "./io.ts";

// Control characters (C0, DEL, C1): names and notes come from the server and from files, and an
// escape sequence among them could rewrite the terminal. JSON output escapes them already.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A line as printed for people: every control character shown as `?`. */
export const printable = (line: string) => line.replace(CONTROL, "?");

/** Prints a command's result: its JSON (pretty, one value) with --json, else the human lines. */
export function emit(io: Io, json: boolean, value: unknown, human: () => string | readonly string[]): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const text = human();
  const lines = typeof text === "string" ? [text] : text;
  for (const line of lines) io.stdout.write(`${printable(line)}\n`);
}

/** A note for people (never part of --json output): stderr. */
export function note(io: Io, text: string): void {
  io.stderr.write(`${printable(text)}\n`);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

export const formatTime = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "-" : new Date(ms).toISOString().replace(".000Z", "Z");

/** Rows as left-aligned columns separated by two spaces (the last column is not padded). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/** A progress bar redrawn in place on a terminal; does nothing on anything else. */
export class Progress {
  readonly #out: Writer;
  readonly #total: number;
  readonly #label: string;
  #lastDrawn = -1;

  constructor(out: Writer, label: string, total: number) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
  }

  get active(): boolean {
    return this.#out.isTTY === true;
  }

  update(done: number): void {
    if (!this.active) return;
    const percent = this.#total === 0 ? 100 : Math.floor((done / this.#total) * 100);
    if (percent === this.#lastDrawn) return;
    this.#lastDrawn = percent;
    const width = 30;
    const filled = Math.round((percent / 100) * width);
    const bar = `${"#".repeat(filled)}${".".repeat(width - filled)}`;
    this.#out.write(
      `\r${this.#label} [${bar}] ${String(percent).padStart(3)}% ${formatBytes(done)} / ${formatBytes(this.#total)}`,
    );
  }

  /** Clears the bar's line. */
  finish(): void {
    if (this.active && this.#lastDrawn >= 0) this.#out.write("\r\u001b[2K");
  }
}
