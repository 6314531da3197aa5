// Seeds the demo workspace through the public admin API (the same calls a newcomer makes by hand).
//
// Resumable: the bootstrap token is written to the demo file the moment bootstrap answers, and every
// later step looks up what it would create (or is an idempotent replay), so a seed stopped at any
// point (Ctrl-C during the first `npm start`) is completed by the next start.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generateKeyPair, readPrivateKey, signText, writePrivateKey } from "../packages/cli/src/ed25519.ts";
import { packFiles } from "../packages/cli/src/pack.ts";
import { statementText } from "../packages/sdk/src/canonical.ts";
import { zipFiles } from "./zip.mjs";

export const DEMO = {
  app: { key: "demo-wallet", name: "Demo Wallet", platforms: ["ios", "android"], environments: ["test", "prod"] },
  miniPrograms: [
    {
      key: "demo-pay",
      type: "dsl",
      names: { en: "Pay", "zh-CN": "支付" },
      descriptions: { en: "Pay with the demo wallet" },
      defaultUpdateMode: "async",
      config: { networkAllowlist: ["api.demo-pay.test"], switches: { newCheckout: "off" } },
    },
    { key: "demo-coupons", type: "h5", names: { en: "Coupons" } },
  ],
  versions: ["1.0.0", "1.1.0"],
  /** demo-pay 1.1.0 in full release on (demo-wallet, prod). */
  release: {
    miniProgramId: "demo-pay",
    version: "1.1.0",
    appId: "demo-wallet",
    env: "prod",
    config: { switches: { newCheckout: "on" } },
  },
};

/** The update check `npm start` prints: a device on demo-pay 1.0.0 (the demo offers it 1.1.0). */
export const DEMO_CHECK = {
  appId: "demo-wallet",
  env: "prod",
  deviceId: "device-1",
  appVersion: "8.2.0",
  miniPrograms: [{ id: "demo-pay", version: "1.0.0" }],
};

/** The files of a demo version. */
export function demoFiles(mp, version) {
  return { "index.js": `console.log("${mp} ${version}");`, "app.json": JSON.stringify({ mp, version }) };
}

export function demoPackage(mp, version) {
  return zipFiles(demoFiles(mp, version));
}

/**
 * The demo publisher's Ed25519 key (PKCS#8 PEM, owner-only), made once next to the demo file: the
 * demo workspace requires signed uploads like every new workspace, and the README's tour publishes
 * with this key (`npx updraft publish --key …`).
 */
export function demoPublisherKey(file) {
  if (!existsSync(file)) writePrivateKey(file, generateKeyPair().privateKey);
  return readPrivateKey(file);
}

/** The upload headers signing a demo version's package statement (docs/publishing.md). */
export function signedUploadHeaders(key, mp, version) {
  const files = Object.fromEntries(Object.entries(demoFiles(mp, version)).map(([p, t]) => [p, Buffer.from(t)]));
  const pkg = packFiles(files);
  const statement = statementText({ miniProgram: mp, version, ...pkg });
  return { "updraft-publisher-signature": signText(key.privateKey, statement), "updraft-publisher-key-id": key.keyId };
}

class ApiError extends Error {
  constructor(method, path, status, text) {
    super(`${method} ${path} → ${status} ${text}`);
    this.status = status;
  }
}

async function api(base, token, method, path, body, headers = {}) {
  const init = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
  if (body instanceof Uint8Array) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  if (!res.ok) throw new ApiError(method, path, res.status, text);
  return text === "" ? null : JSON.parse(text);
}

export function readDemoFile(file) {
  if (!existsSync(file)) return null;
  try {
    const demo = JSON.parse(readFileSync(file, "utf8"));
    return typeof demo.token === "string" ? demo : null;
  } catch {
    return null;
  }
}

function writeDemoFile(file, demo) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(demo, null, 2)}\n`);
}

/** Creates with POST unless GET finds it; a 409 from the POST (someone else was faster) is "there". */
async function ensure(call, getPath, postPath, body) {
  try {
    return await call("GET", getPath);
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  try {
    return await call("POST", postPath, body);
  } catch (error) {
    if (error.status !== 409) throw error;
    return call("GET", getPath);
  }
}

/**
 * A new admin token for the demo workspace through the operator's recovery route (the only admin's
 * token expired), or null when the workspace is not there (the state was reset).
 */
async function recoverDemoAdmin(base, bootstrapSecret, demo) {
  if (typeof demo.workspaceId !== "string") return null;
  const headers = { "content-type": "application/json", "updraft-bootstrap-secret": bootstrapSecret };
  const added = await fetch(`${base}/v1/workspaces/${demo.workspaceId}/admins`, {
    method: "POST",
    headers,
    body: JSON.stringify({ name: "Demo Admin", email: `admin-${Date.now()}@demo.test` }),
  });
  if (!added.ok) return null;
  const { invite } = await added.json();
  const accepted = await fetch(`${base}/v1/invites/accept`, {
    method: "POST",
    headers,
    body: JSON.stringify({ secret: invite.secret, tokenName: "demo" }),
  });
  if (!accepted.ok) return null;
  return { ...demo, token: (await accepted.json()).token.secret };
}

/**
 * Seeds (or finishes seeding) the demo. Returns { token } once the demo is complete, or
 * { token: null, reason } when this state has a workspace whose token is lost (only a reset helps).
 * `afterStep(name)` runs after each step (the tests stop the seed there to resume it later).
 */
export async function seedDemo(
  base,
  {
    bootstrapSecret,
    demoFile,
    publisherKeyFile = join(dirname(demoFile), "publisher-key.pem"),
    afterStep = async () => {},
  },
) {
  let demo = readDemoFile(demoFile);
  if (demo !== null) {
    const res = await fetch(`${base}/v1/admin/apps`, { headers: { authorization: `Bearer ${demo.token}` } });
    if (res.status === 401) {
      // Expired (tokens last 90 days) or a state that is gone: the operator's recovery gives the
      // demo workspace a new admin when it still exists.
      demo = await recoverDemoAdmin(base, bootstrapSecret, demo);
      if (demo !== null) writeDemoFile(demoFile, demo);
    } else if (!res.ok) throw new Error(`GET /v1/admin/apps → ${res.status} ${await res.text()}`);
  }
  if (demo === null) {
    const res = await fetch(`${base}/v1/bootstrap`, {
      method: "POST",
      headers: { "content-type": "application/json", "updraft-bootstrap-secret": bootstrapSecret },
      body: JSON.stringify({ workspaceName: "Demo", adminName: "Demo Admin", adminEmail: "admin@demo.test" }),
    });
    if (res.status === 409) return { token: null, reason: "token-lost" };
    if (!res.ok) throw new Error(`POST /v1/bootstrap → ${res.status} ${await res.text()}`);
    const created = await res.json();
    demo = { token: created.token, workspaceId: created.workspaceId, complete: false };
    // Before anything else: a seed stopped from here on resumes with this token.
    writeDemoFile(demoFile, demo);
    await afterStep("bootstrap");
  }
  const call = (method, path, body, headers) => api(base, demo.token, method, path, body, headers);
  // One person plays every role in the demo (and the README tour): they may approve their own
  // releases. Checked on every start, so a demo seeded before this setting existed gets it too.
  const workspace = await call("GET", "/v1/admin/workspace");
  if (!workspace.allowSelfApproval) await call("PATCH", "/v1/admin/workspace", { allowSelfApproval: true });
  if (demo.workspaceId !== workspace.id) {
    demo = { ...demo, workspaceId: workspace.id };
    writeDemoFile(demoFile, demo);
  }
  // The demo publisher's key, registered with the workspace (a 409: it already is).
  const publisher = demoPublisherKey(publisherKeyFile);
  if (!demo.complete || demo.publisherKeyId !== publisher.keyId) {
    try {
      await call("POST", "/v1/admin/publisher-keys", { name: "demo publisher", publicKey: publisher.publicKey });
    } catch (error) {
      if (error.status !== 409) throw error;
    }
    demo = { ...demo, publisherKeyId: publisher.keyId };
    writeDemoFile(demoFile, demo);
  }
  if (demo.complete) return { token: demo.token };

  const app = await ensure(call, `/v1/admin/apps/${DEMO.app.key}`, "/v1/admin/apps", DEMO.app);
  // An app created without some environment (by hand, say) gets it.
  const have = new Set(app.environments.map((e) => e.name));
  for (const name of DEMO.app.environments.filter((n) => !have.has(n))) {
    try {
      await call("POST", `/v1/admin/apps/${DEMO.app.key}/environments`, { name });
    } catch (error) {
      if (error.status !== 409) throw error;
    }
  }
  await afterStep("app");
  for (const mp of DEMO.miniPrograms) {
    await ensure(call, `/v1/admin/mini-programs/${mp.key}`, "/v1/admin/mini-programs", mp);
    await afterStep(`mini-program ${mp.key}`);
  }
  for (const mp of DEMO.miniPrograms) {
    for (const version of DEMO.versions) {
      // The package bytes are deterministic: uploading them again is an idempotent replay (200).
      // 409 VERSION_CONFLICT: the version is there with other bytes (an older seed's) — fine too.
      try {
        await call(
          "POST",
          `/v1/admin/mini-programs/${mp.key}/versions?version=${version}&compat=%3E%3D8.0.0&releaseNote=Demo%20${version}`,
          demoPackage(mp.key, version),
          { "content-type": "application/zip", ...signedUploadHeaders(publisher, mp.key, version) },
        );
      } catch (error) {
        if (error.status !== 409) throw error;
      }
      await afterStep(`version ${mp.key} ${version}`);
    }
  }

  const r = DEMO.release;
  const version = await call("GET", `/v1/admin/mini-programs/${r.miniProgramId}/versions/${r.version}`);
  const findRelease = async () => {
    const query = `appId=${r.appId}&env=${r.env}&miniProgramId=${r.miniProgramId}`;
    const { items } = await call("GET", `/v1/admin/releases?${query}`);
    return items.find((item) => item.versionId === version.id) ?? null;
  };
  let release = await findRelease();
  if (release === null) {
    try {
      release = await call("POST", "/v1/admin/releases", r);
    } catch (error) {
      if (error.status !== 409) throw error;
      release = await findRelease();
    }
    await afterStep("release");
  }
  // Walk it to full from wherever it stands; a release past `approved` (full, or archived by a newer
  // full release, paused, …) is left as it is.
  const path = ["created", "in_review", "approved", "full"];
  for (let at = path.indexOf(release.status); at >= 0 && at < path.length - 1; at++) {
    release = await call("POST", `/v1/admin/releases/${release.id}/transitions`, { to: path[at + 1] });
    await afterStep(`release ${release.status}`);
  }
  demo = { ...demo, complete: true };
  writeDemoFile(demoFile, demo);
  return { token: demo.token };
}
