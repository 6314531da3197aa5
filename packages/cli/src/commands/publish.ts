// updraft publish: pack, sign the package statement with the publisher key, upload (streamed, with
// a progress bar on a terminal). Identical bytes under an existing version are a replay (200).

import { statementText } from "@updraft/sdk/canonical";
import type { Command } from "commander";
import { seg } from "../api.ts";
import { type KeyPair, readPrivateKey, signText, verifyText } from "../ed25519.ts";
import { CliError, EXIT, usageError } from "../errors.ts";
import { note, Progress, table } from "../output.ts";
import type { Runtime } from "../runtime.ts";
import { packageJson, packageRows, packDir, writeZip } from "./pack.ts";

const UPDATE_MODES = ["sync", "async", "default"];
const CHUNK = 64 * 1024;
const UPLOAD_TIMEOUT_MS = 15 * 60_000;

interface Version {
  id: string;
  miniProgramId: string;
  version: string;
  sha256: string;
  size: number;
  fileCount: number;
  publisherKeyId: string | null;
}

/** The bytes as a stream that reports how much of it was handed to the connection. */
function streamOf(bytes: Uint8Array, onProgress: (sent: number) => void): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      const end = Math.min(offset + CHUNK, bytes.length);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
      onProgress(offset);
    },
  });
}

interface PublishOptions {
  miniProgram: string;
  version: string;
  key?: string;
  unsigned?: boolean;
  compat?: string;
  updateMode?: string;
  note?: string;
  out?: string;
}

/** Semantic versions as the service stores them (what a statement must name): no "v", no build metadata. */
const CANONICAL_VERSION =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?$/;

export function registerPublish(program: Command, rt: Runtime): void {
  const { io } = rt;
  program
    .command("publish")
    .summary("pack, sign and upload a version")
    .description(
      "pack a folder, sign its package statement with your publisher key and upload it as a version; uploading " +
        "the same bytes again is a success (already published)",
    )
    .argument("<dir>", "the folder to pack and upload")
    .requiredOption("--mini-program <key>", "the mini program (key or id)")
    .requiredOption("--version <version>", "the version to upload, semver (e.g. 1.2.0)")
    .option("--key <pem>", "the publisher private key (default: UPDRAFT_KEY, then the config file's key)")
    .option("--unsigned", "upload without a publisher signature (refused where the workspace requires them)")
    .option("--compat <range>", "the host app versions it runs on, a semver range (default *)")
    .option("--update-mode <mode>", "the version's default update mode: sync, async or default")
    .option("--note <text>", "the release note (up to 2000 characters)")
    .option("--out <file>", "also write the zip to this file")
    .action(async (dir: string, opts: PublishOptions, cmd: Command) => {
      if (opts.unsigned && opts.key !== undefined) throw usageError("--unsigned and --key exclude each other");
      if (opts.updateMode !== undefined && !UPDATE_MODES.includes(opts.updateMode)) {
        throw usageError(`--update-mode must be one of ${UPDATE_MODES.join(", ")}`);
      }
      const settings = rt.settings(cmd);
      const api = rt.api(cmd);
      let signer: KeyPair | null = null;
      if (!opts.unsigned) {
        const keyFile = opts.key === undefined ? settings.key : rt.path(opts.key);
        if (keyFile === null) {
          throw usageError(
            "no publisher key: pass --key <pem>, set UPDRAFT_KEY, run `updraft keygen`, or upload with --unsigned",
          );
        }
        signer = readPrivateKey(keyFile, "the publisher key");
      }
      // What is signed is what was typed, never what the service says: a signature binds the package
      // to the mini program key and version the publisher named (devices check both).
      if (signer !== null && /^mp_/i.test(opts.miniProgram)) {
        throw usageError("a signed publish names the mini program by its key (what devices send), not its id");
      }
      if (!CANONICAL_VERSION.test(opts.version)) {
        throw usageError(
          `--version must be a plain semantic version such as 1.2.0 or 1.2.0-beta.1 (no "v", no "+build"): ${opts.version}`,
        );
      }
      const pkg = packDir(rt, dir);
      if (opts.out !== undefined) writeZip(rt.path(opts.out), pkg.bytes);

      const headers: Record<string, string> = {
        "content-type": "application/zip",
        "content-length": String(pkg.size),
      };
      const miniProgramKey = opts.miniProgram;
      if (signer !== null) {
        const statement = statementText({
          miniProgram: miniProgramKey,
          version: opts.version,
          sha256: pkg.sha256,
          size: pkg.size,
          manifestSha256: pkg.manifestSha256,
        });
        const signature = signText(signer.privateKey, statement);
        if (!verifyText(signer.publicKey, statement, signature)) {
          throw new CliError(EXIT.LOCAL, "the signature just made does not verify; the key file may be damaged");
        }
        headers["updraft-publisher-signature"] = signature;
        headers["updraft-publisher-key-id"] = signer.keyId;
      }

      const progress = new Progress(io.stderr, "uploading", pkg.size);
      let answer: Awaited<ReturnType<typeof api.request<Version>>>;
      try {
        answer = await api.request<Version>("POST", `/v1/admin/mini-programs/${seg(opts.miniProgram)}/versions`, {
          query: {
            version: opts.version,
            compat: opts.compat,
            updateMode: opts.updateMode,
            releaseNote: opts.note,
          },
          headers,
          body: progress.active ? streamOf(pkg.bytes, (sent) => progress.update(sent)) : pkg.bytes,
          timeoutMs: UPLOAD_TIMEOUT_MS,
        });
      } finally {
        progress.finish();
      }
      const version = answer.body;
      const created = answer.status === 201;
      if (version.sha256 !== pkg.sha256) {
        throw new CliError(EXIT.SERVER, `error: the server stored sha256 ${version.sha256}, not ${pkg.sha256}`);
      }
      const signedWith = signer?.keyId ?? null;
      if (!created && version.publisherKeyId !== signedWith) {
        note(
          io,
          `note: the version was stored earlier ${version.publisherKeyId === null ? "unsigned" : `signed with key ${version.publisherKeyId}`}; ` +
            "a replay keeps the stored signature, so this upload's signature was not recorded",
        );
      }
      rt.emit(
        cmd,
        {
          outcome: created ? "created" : "already_published",
          miniProgram: miniProgramKey,
          package: packageJson(pkg),
          publisherKeyId: signedWith,
          version,
        },
        () => [
          created
            ? `Published ${miniProgramKey} ${version.version} (${version.id}).`
            : `Already published: ${miniProgramKey} ${version.version} (${version.id}) has exactly these bytes.`,
          ...table([
            ...packageRows(pkg),
            ["signed with", signedWith === null ? "nothing (unsigned)" : `publisher key ${signedWith}`],
          ]),
        ],
      );
    });
}
