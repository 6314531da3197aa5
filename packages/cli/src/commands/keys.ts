// updraft keygen (publisher keys) and updraft keys … (register, list, and the offline root role of
// service key rotation: root-keygen, sign, verify).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { keyValidAt, type ServiceKey } from "@updraft/sdk/canonical";
import type { Command } from "commander";
import { Api } from "../api.ts";
import { configPath, normalizeServer, readConfig, writeConfig } from "../config.ts";
import { generateKeyPair, isRawKey, readPrivateKey, readPublicKey, writePrivateKey } from "../ed25519.ts";
import { CliError, describeSystemError, EXIT, localError, usageError } from "../errors.ts";
import { parseKeySpec, parseTime, payloadText, readKeysFile, signKeyset, verifyKeyset } from "../keyset.ts";
import { formatTime, note, table } from "../output.ts";
import { collect, type Runtime } from "../runtime.ts";

interface PublisherKey {
  id: string;
  keyId: string;
  name: string;
  publicKey: string;
  createdAt: number;
  revokedAt: number | null;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const positiveInt = (value: string, what: string) => {
  if (!/^[1-9]\d*$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw usageError(`${what} must be a positive integer, not "${value}"`);
  }
  return Number(value);
};

export function registerKeys(program: Command, rt: Runtime): void {
  const { io } = rt;

  program
    .command("keygen")
    .summary("make a publisher key pair (and register it)")
    .description(
      "make an Ed25519 publisher key pair: the private key as PKCS#8 PEM (mode 0600), the public key and " +
        "key id printed; it becomes the default key `publish` signs with",
    )
    .option("--out <file>", "where to write the private key (default: publisher-<keyId>.pem beside the config file)")
    .option("--register", "also add the public key to the workspace (POST /v1/admin/publisher-keys; workspace admins)")
    .option("--name <name>", "the key's name in the workspace (with --register)")
    .option("--no-default", "do not make it the default publishing key in the config file")
    .action(async (opts: { out?: string; register?: boolean; name?: string; default: boolean }, cmd: Command) => {
      if (opts.name !== undefined && !opts.register) throw usageError("--name goes with --register");
      if (opts.register && (opts.name === undefined || opts.name.trim() === "")) {
        throw usageError("--register needs --name <name> (how the workspace lists the key)");
      }
      // Before anything is written: registering needs a server and a token.
      const api = opts.register ? rt.api(cmd) : null;
      const pair = generateKeyPair();
      const file =
        opts.out === undefined ? join(dirname(configPath(io)), `publisher-${pair.keyId}.pem`) : rt.path(opts.out);
      writePrivateKey(file, pair.privateKey);
      if (opts.default) writeConfig(io, { ...readConfig(io), key: file });
      let registered: PublisherKey | null = null;
      if (api !== null) {
        try {
          registered = await api.post<PublisherKey>("/v1/admin/publisher-keys", {
            name: opts.name,
            publicKey: pair.publicKey,
          });
        } catch (error) {
          if (error instanceof CliError) {
            note(
              io,
              `the key was written to ${file}; register it later with: updraft keys register --name <name> ${file}`,
            );
          }
          throw error;
        }
      }
      rt.emit(
        cmd,
        { privateKeyFile: file, publicKey: pair.publicKey, keyId: pair.keyId, default: opts.default, registered },
        () => [
          ...table([
            ["private key", `${file} (mode 0600: keep it secret)`],
            ["public key", pair.publicKey],
            ["key id", pair.keyId],
            ["default", opts.default ? "yes: `updraft publish` signs with it" : "no (pass --key to publish)"],
            [
              "registered",
              registered === null
                ? "no (updraft keys register, by a workspace admin)"
                : `yes, as "${registered.name}" (${registered.id})`,
            ],
          ]),
        ],
      );
    });

  const keys = program.command("keys").description("publisher keys, and the root role of service key rotation");

  keys
    .command("register")
    .description("add a publisher public key to the workspace (workspace admins)")
    .argument("<key>", "a base64url raw public key, or a key file (PEM private or public key)")
    .requiredOption("--name <name>", "the key's name in the workspace")
    .action(async (key: string, opts: { name: string }, cmd: Command) => {
      const api = rt.api(cmd);
      const publicKey = isRawKey(key) ? key : readPublicKey(rt.path(key));
      const registered = await api.post<PublisherKey>("/v1/admin/publisher-keys", { name: opts.name, publicKey });
      rt.emit(cmd, registered, () => `Registered key ${registered.keyId} as "${registered.name}" (${registered.id}).`);
    });

  keys
    .command("list")
    .description("the workspace's publisher keys, revoked ones included")
    .option("--limit <n>", "page size (1-500)")
    .option("--cursor <cursor>", "the next page (nextCursor of the previous one)")
    .action(async (opts: { limit?: string; cursor?: string }, cmd: Command) => {
      const page = await rt.api(cmd).get<Page<PublisherKey>>("/v1/admin/publisher-keys", {
        limit: opts.limit,
        cursor: opts.cursor,
      });
      rt.emit(cmd, page, () => [
        ...table([
          ["KEY ID", "NAME", "STATUS", "ADDED"],
          ...page.items.map((k) => [
            k.keyId,
            k.name,
            k.revokedAt === null ? "active" : `revoked ${formatTime(k.revokedAt)}`,
            formatTime(k.createdAt),
          ]),
        ]),
        ...(page.nextCursor === null ? [] : [`more: --cursor ${page.nextCursor}`]),
      ]);
    });

  keys
    .command("root-keygen")
    .description("make an offline root key pair (signs key sets): PKCS#8 PEM, mode 0600; keep it off the servers")
    .requiredOption("--out <file>", "where to write the private key (never overwritten)")
    .action((opts: { out: string }, cmd: Command) => {
      const pair = generateKeyPair();
      const file = rt.path(opts.out);
      writePrivateKey(file, pair.privateKey);
      rt.emit(cmd, { privateKeyFile: file, publicKey: pair.publicKey, keyId: pair.keyId }, () =>
        table([
          ["private key", `${file} (mode 0600: keep it offline)`],
          ["public key", `${pair.publicKey} (pin this in clients)`],
          ["key id", pair.keyId],
        ]),
      );
    });

  keys
    .command("sign")
    .summary("sign a key set with root key(s)")
    .description(
      "sign a key set with root key(s): prints the SignedKeyset JSON {payload, signatures} that the server " +
        "publishes at GET /v1/keys (its secret SIGNING_KEYSET)",
    )
    .requiredOption("--root <pem>", "a root private key file (repeat for several signatures)", collect)
    .requiredOption("--version <n>", "the key set's version: a positive integer, higher than the last one published")
    .option(
      "--key <spec>",
      "a service key: <keyId>=<publicKey|seed-file>[,notBefore=<time>][,notAfter=<time>] (repeatable)",
      collect,
    )
    .option("--keys <file>", "the service keys as JSON (an array, or an object with a keys array such as GET /v1/keys)")
    .option("--issued-at <time>", "issuedAt (ISO 8601 or Unix ms; default: now)")
    .option("--expires <time>", "expiresAt: clients fetch a newer key set after it (default: never)")
    .option("--out <file>", "write the key set to this file instead of stdout")
    .action(
      (
        opts: {
          root: string[];
          version: string;
          key?: string[];
          keys?: string;
          issuedAt?: string;
          expires?: string;
          out?: string;
        },
        cmd: Command,
      ) => {
        const version = positiveInt(opts.version, "--version");
        const serviceKeys: ServiceKey[] = [
          ...(opts.keys === undefined ? [] : readKeysFile(rt.path(opts.keys))),
          ...(opts.key ?? []).map((spec) => parseKeySpec(spec, io.cwd)),
        ];
        if (serviceKeys.length === 0)
          throw usageError("no service keys: pass --key <spec> (repeatable) or --keys <file>");
        const issuedAt = opts.issuedAt === undefined ? io.now() : parseTime(opts.issuedAt, "--issued-at");
        const expiresAt = opts.expires === undefined ? null : parseTime(opts.expires, "--expires");
        if (expiresAt !== null && expiresAt <= issuedAt) throw usageError("--expires must be after --issued-at");
        const roots = opts.root.map((file) => readPrivateKey(rt.path(file), "the root key"));
        const text = payloadText({ type: "updraft-keyset", version, issuedAt, expiresAt, keys: serviceKeys });
        const signed = signKeyset(text, roots);
        // What a client will do with it: verify against the roots' public keys.
        verifyKeyset(
          signed,
          roots.map((r) => r.publicKey),
          issuedAt,
        );
        const summary = `key set version ${version}: ${serviceKeys.length} key(s) [${serviceKeys.map((k) => k.keyId).join(", ")}], signed by root ${roots.map((r) => r.keyId).join(", ")}`;
        if (opts.out === undefined) {
          io.stdout.write(`${JSON.stringify(signed)}\n`);
          note(io, summary);
          return;
        }
        const file = rt.path(opts.out);
        try {
          writeFileSync(file, `${JSON.stringify(signed)}\n`);
        } catch (error) {
          throw localError(`cannot write ${file}: ${describeSystemError(error)}`);
        }
        rt.emit(
          cmd,
          { file, version, keys: serviceKeys.map((k) => k.keyId), signedBy: roots.map((r) => r.keyId) },
          () => `Wrote ${summary} to ${file}.`,
        );
      },
    );

  keys
    .command("verify")
    .summary("check a key set against root public key(s)")
    .description(
      "check a key set against trusted root public key(s): signature, expiry and, optionally, a minimum version",
    )
    .argument(
      "[source]",
      "a key set file, - for stdin, or a URL (a server's base URL means its /v1/keys); default: the server's /v1/keys",
    )
    .requiredOption("--root-public <key>", "a trusted root public key, base64url raw 32 bytes (repeatable)", collect)
    .option("--min-version <n>", "refuse a key set older than this version (what a client has seen before)")
    .action(async (source: string | undefined, opts: { rootPublic: string[]; minVersion?: string }, cmd: Command) => {
      for (const key of opts.rootPublic) {
        if (!isRawKey(key)) throw usageError(`--root-public "${key}" is not a base64url raw 32-byte public key`);
      }
      const minVersion = opts.minVersion === undefined ? undefined : positiveInt(opts.minVersion, "--min-version");
      const value = await loadKeyset(rt, cmd, source);
      let verified: ReturnType<typeof verifyKeyset>;
      try {
        verified = verifyKeyset(value, opts.rootPublic, io.now(), minVersion);
      } catch (error) {
        if (error instanceof CliError)
          throw new CliError(error.exitCode, error.message, { ok: false, reason: error.message });
        throw error;
      }
      const { payload, signedBy } = verified;
      const now = io.now();
      const keysOut = payload.keys.map((k) => ({ ...k, validNow: keyValidAt(k, now) }));
      rt.emit(
        cmd,
        {
          ok: true,
          version: payload.version,
          issuedAt: payload.issuedAt,
          expiresAt: payload.expiresAt,
          signedBy,
          keys: keysOut,
        },
        () => [
          `OK: key set version ${payload.version}, issued ${formatTime(payload.issuedAt)}, ` +
            `expires ${payload.expiresAt === null ? "never" : formatTime(payload.expiresAt)}, signed by root ${signedBy.join(", ")}`,
          ...table([
            ["KEY ID", "PUBLIC KEY", "NOT BEFORE", "NOT AFTER", "VALID NOW"],
            ...keysOut.map((k) => [
              k.keyId,
              k.publicKey,
              formatTime(k.notBefore),
              formatTime(k.notAfter),
              k.validNow ? "yes" : "no",
            ]),
          ]),
        ],
      );
    });
}

/** The JSON of a key set source: a file, stdin (-), a URL, or the configured server's /v1/keys. */
async function loadKeyset(rt: Runtime, cmd: Command, source: string | undefined): Promise<unknown> {
  if (source === undefined || /^https?:\/\//i.test(source)) {
    let api: Api;
    let path = "/v1/keys";
    if (source === undefined) {
      api = rt.publicApi(cmd);
    } else {
      const url = new URL(source);
      if (url.pathname === "/" || url.pathname === "") {
        api = new Api(rt.io, normalizeServer(url.origin), null);
      } else {
        api = new Api(rt.io, normalizeServer(source), null);
        path = "";
      }
    }
    return (await api.request<unknown>("GET", path, { anonymous: true })).body;
  }
  let text: string;
  if (source === "-") {
    text = await rt.io.readStdin();
  } else {
    const file = rt.path(source);
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw localError(`cannot read ${file}: ${describeSystemError(error)}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(EXIT.VERIFY, `verification failed: ${source} is not JSON`, { ok: false, reason: "not JSON" });
  }
}
