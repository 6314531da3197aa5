// The few Node APIs src/node.ts uses, declared as modules only: the core's type check (tsconfig.json,
// no @types/node) then knows no Node global, so a core file using `process` or `Buffer` fails it.
// tsconfig.test.json checks node.ts against the real @types/node instead of these declarations.

declare module "node:crypto" {
  export function createHash(algorithm: "sha256"): {
    update(data: string, encoding: "utf8"): { digest(encoding: "hex"): string };
  };
  export function randomBytes(size: number): { toString(encoding: "hex"): string };
}

declare module "node:fs/promises" {
  export interface FileHandle {
    writeFile(data: Uint8Array | string): Promise<void>;
    sync(): Promise<void>;
    close(): Promise<void>;
  }
  export function open(path: string, flags: "w" | "wx" | "r"): Promise<FileHandle>;
  export function readFile(path: string): Promise<Uint8Array>;
  export function readFile(path: string, encoding: "utf8"): Promise<string>;
  export function appendFile(path: string, data: Uint8Array): Promise<void>;
  export function mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
  export function readdir(path: string): Promise<string[]>;
  export function rename(from: string, to: string): Promise<void>;
  export function rm(path: string, options: { recursive?: boolean; force?: boolean }): Promise<void>;
}

declare module "node:path" {
  export function dirname(path: string): string;
  export function join(...paths: string[]): string;
  export function resolve(...paths: string[]): string;
  export const sep: string;
}
