// Where `npm start` keeps its local state, its secrets and its lock; shared by start.mjs and reset.mjs.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import {
  generateKeyPair,
  privateKeyFromSeed,
  rawPublicKeyOf,
  readPrivateKey,
  writePrivateKey,
} from "../packages/cli/src/ed25519.ts";
import { payloadText, signKeyset } from "../packages/cli/src/keyset.ts";

/**
 * Default: wrangler's own local state directory (.wrangler/state, so `wrangler d1 execute updraft
 * --local` sees the same database) and Updraft's files in .updraft/. UPDRAFT_STATE_DIR=<dir> keeps
 * everything of one server in <dir> instead: D1/R2/KV/Durable Objects (wrangler --persist-to),
 * the demo token, the lock and the local secrets (the tests start servers this way).
 */
export function localPaths(env = process.env, root = process.cwd()) {
  const custom = env.UPDRAFT_STATE_DIR;
  if (custom) {
    const dir = resolve(root, custom);
    return {
      persistDir: dir,
      demoFile: join(dir, "demo.json"),
      lockFile: join(dir, "server.json"),
      secretsFile: join(dir, "secrets.env"),
      rootKeyFile: join(dir, "root-key.pem"),
      publisherKeyFile: join(dir, "publisher-key.pem"),
      legacyDevVars: null,
    };
  }
  return {
    persistDir: resolve(root, ".wrangler/state"),
    demoFile: resolve(root, ".updraft/demo.json"),
    lockFile: resolve(root, ".updraft/server.json"),
    secretsFile: resolve(root, ".updraft/secrets.env"),
    rootKeyFile: resolve(root, ".updraft/root-key.pem"),
    publisherKeyFile: resolve(root, ".updraft/publisher-key.pem"),
    legacyDevVars: resolve(root, ".dev.vars"),
  };
}

/** wrangler's CLI entry (run with this Node, so `node scripts/start.mjs` works without npm's PATH). */
export function wranglerBin() {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

// Local secrets: generated once per checkout (or state directory), never committed (.gitignore).
// They live outside .dev.vars and .env on purpose: `wrangler types` (and the type check wrangler dev
// runs on every start) read those two, and would write the secrets into worker-configuration.d.ts.
// src/deps.ts declares them by hand instead. wrangler dev gets them with --env-file.
export const LOCAL_SECRETS = {
  SIGNING_KEY_SEED: () => randomBytes(32).toString("base64url"),
  SIGNING_KEY_ID: () => "local-dev",
  BOOTSTRAP_SECRET: () => randomBytes(24).toString("base64url"),
  BUCKET_KEY: () => randomBytes(16).toString("hex"),
};

export function parseVars(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2].trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    vars[m[1]] = value;
  }
  return vars;
}

/**
 * Makes sure the secrets file holds every LOCAL_SECRETS key and returns its values plus `notes` to
 * print. Secrets a checkout from before this layout kept in .dev.vars are moved over (same keys, so
 * the demo's signatures and buckets stay the same); other lines of .dev.vars stay where they are.
 */
export function ensureLocalSecrets(paths) {
  const notes = [];
  let existing = existsSync(paths.secretsFile) ? readFileSync(paths.secretsFile, "utf8") : "";
  let vars = parseVars(existing);
  if (paths.legacyDevVars && existsSync(paths.legacyDevVars)) {
    const legacyText = readFileSync(paths.legacyDevVars, "utf8");
    const legacy = parseVars(legacyText);
    const ours = Object.keys(LOCAL_SECRETS).filter((k) => k in legacy);
    if (ours.length > 0) {
      const moved = ours.filter((k) => !(k in vars));
      if (moved.length > 0) {
        const prefix = existing === "" || existing.endsWith("\n") ? existing : `${existing}\n`;
        existing = prefix + moved.map((k) => `${k}=${legacy[k]}\n`).join("");
        mkdirSync(dirname(paths.secretsFile), { recursive: true });
        writeFileSync(paths.secretsFile, existing, { mode: 0o600 });
        vars = parseVars(existing);
      }
      const rest = legacyText
        .split(/\r?\n/)
        .filter((line) => !ours.some((k) => new RegExp(`^\\s*(?:export\\s+)?${k}\\s*=`).test(line)));
      if (rest.every((line) => line.trim() === "" || line.trim().startsWith("#"))) rmSync(paths.legacyDevVars);
      else writeFileSync(paths.legacyDevVars, rest.join("\n"));
      notes.push(
        `Moved the local secrets ${ours.join(", ")} from .dev.vars to ${relative(process.cwd(), paths.secretsFile)} ` +
          "(so `wrangler types` no longer writes them into worker-configuration.d.ts).",
      );
    }
  }
  const missing = Object.entries(LOCAL_SECRETS).filter(([k]) => !(k in vars));
  if (missing.length > 0) {
    const prefix = existing === "" || existing.endsWith("\n") ? existing : `${existing}\n`;
    mkdirSync(dirname(paths.secretsFile), { recursive: true });
    writeFileSync(paths.secretsFile, prefix + missing.map(([k, make]) => `${k}=${make()}\n`).join(""), {
      mode: 0o600,
    });
    vars = parseVars(readFileSync(paths.secretsFile, "utf8"));
  }
  const keyset = localKeyset(paths, vars);
  if (keyset !== undefined && keyset !== vars.SIGNING_KEYSET) {
    const text = readFileSync(paths.secretsFile, "utf8");
    const kept = text
      .split(/\r?\n/)
      .filter((line) => line !== "" && !/^\s*(?:export\s+)?SIGNING_KEYSET\s*=/.test(line));
    writeFileSync(paths.secretsFile, `${[...kept, `SIGNING_KEYSET=${keyset}`].join("\n")}\n`, { mode: 0o600 });
    vars = parseVars(readFileSync(paths.secretsFile, "utf8"));
  }
  return { vars, notes };
}

/** The local root key (PKCS#8 PEM, owner-only), made once: locally it plays the offline root role. */
export function localRootKey(paths) {
  if (!existsSync(paths.rootKeyFile)) writePrivateKey(paths.rootKeyFile, generateKeyPair().privateKey);
  return readPrivateKey(paths.rootKeyFile, "the local root key");
}

/**
 * SIGNING_KEYSET for the local server (base64url of the signed key set, docs/key-rotation.md): the
 * signing key, signed by the local root key. The current value when it already lists the signing
 * key with its public key; otherwise a new key set one version up.
 */
export function localKeyset(paths, vars) {
  // Not a key (edited by hand): the server refuses to sign (SERVICE_MISCONFIGURED) until it is fixed.
  if (Buffer.from(vars.SIGNING_KEY_SEED ?? "", "base64url").length !== 32) return vars.SIGNING_KEYSET;
  const publicKey = rawPublicKeyOf(privateKeyFromSeed(vars.SIGNING_KEY_SEED));
  const root = localRootKey(paths);
  let previous = null;
  try {
    // The server takes the key set as JSON or as base64url of it (docs/key-rotation.md).
    const text = (vars.SIGNING_KEYSET ?? "").trim();
    const signed = JSON.parse(text.startsWith("{") ? text : Buffer.from(text, "base64url").toString("utf8"));
    previous = { payload: JSON.parse(signed.payload), rootKeyId: signed.signatures?.[0]?.keyId };
  } catch {}
  const listed = previous?.payload.keys?.find((k) => k.keyId === vars.SIGNING_KEY_ID);
  if (listed?.publicKey === publicKey && previous.rootKeyId === root.keyId) return vars.SIGNING_KEYSET;
  const payload = payloadText({
    type: "updraft-keyset",
    version: (Number.isSafeInteger(previous?.payload.version) ? previous.payload.version : 0) + 1,
    issuedAt: Date.now(),
    expiresAt: null,
    keys: [{ keyId: vars.SIGNING_KEY_ID, alg: "Ed25519", publicKey, notBefore: null, notAfter: null }],
  });
  return Buffer.from(JSON.stringify(signKeyset(payload, [root]))).toString("base64url");
}

/** True when a process with this id exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

export function readLock(paths) {
  if (!existsSync(paths.lockFile)) return null;
  try {
    return JSON.parse(readFileSync(paths.lockFile, "utf8"));
  } catch {
    return {};
  }
}

/** Whether an Updraft answers GET /healthz on this port of 127.0.0.1. */
export async function healthy(port, timeoutMs = 1500) {
  if (!Number.isInteger(port) || port <= 0) return false;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok && (await res.text()) === "ok";
  } catch {
    return false;
  }
}

/**
 * The server holding the lock of this state, or null when none: the lock's process is alive, or
 * (its process gone, e.g. killed with SIGKILL) a server still answers on the lock's port.
 */
export async function lockHolder(paths) {
  const lock = readLock(paths);
  if (lock === null) return null;
  if (pidAlive(lock.pid)) return { ...lock, why: "process" };
  if (await healthy(lock.port)) return { ...lock, why: "port" };
  return null;
}

export function writeLock(paths, lock) {
  mkdirSync(dirname(paths.lockFile), { recursive: true });
  writeFileSync(paths.lockFile, `${JSON.stringify(lock, null, 2)}\n`);
}

/** Removes the lock if it is still this process's. */
export function releaseLock(paths, pid = process.pid) {
  const lock = readLock(paths);
  if (lock?.pid === pid) rmSync(paths.lockFile, { force: true });
}
