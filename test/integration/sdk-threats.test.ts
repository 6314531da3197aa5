// Threats through the SDK against the real worker: the SDK's HTTP adapter is the worker's own fetch
// handler (real local D1, R2, KV and Durable Objects) behind a tampering layer that plays the
// attacker. Every attack must be refused with its own error code and leave the installed version,
// its files and every stored file set exactly as they were; the untampered path installs exactly the
// target's files. Keys and seeds: test/support/trust.ts (the test holds every private key, so it
// can forge what a thief of the service key, a retired key or a stranger's key could send).
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ClientOptions,
  createClient,
  type FetchLike,
  fetchHttp,
  isUpdraftError,
  type MemoryStorage,
  manifestText,
  memoryStorage,
  statementText,
  type UpdateResult,
  type UpdraftClient,
  type UpdraftErrorCode,
  utf8Decode,
  utf8Encode,
} from "../../packages/sdk/src/index.ts";
import { createApp, createMiniProgram, createRelease, expectJson, goFull } from "../support/admin-factories";
import { publicKeyOf, rawKeyId, signedKeyset, signWith, TEST_SEEDS, testKeysetPayload } from "../support/trust";
import { BASE, call, makeWorkspace } from "../support/workspace";
import { makeZip, sha256Hex } from "../support/zip";

type Json = Record<string, unknown>;

/** A 32-byte seed (base64url) from a label. */
const seed = (label: string) => Buffer.from(label.padEnd(32, "!").slice(0, 32)).toString("base64url");
const PUBLISHER = seed("sdk-threats-publisher");
const OTHER_PUBLISHER = seed("sdk-threats-other-publisher");
const DEVICE = "sdk-threats-device";

const FILES_0_9 = { "index.js": "console.log('0.9.0')", "app.json": '{"version":"0.9.0"}' };
const FILES_1 = { "index.js": "console.log('1.0.0')", "app.json": '{"version":"1.0.0"}', "pages/home.js": "home 1" };
const FILES_2 = {
  "index.js": "console.log('2.0.0')",
  "app.json": '{"version":"2.0.0","pages":["home","about"]}',
  "pages/home.js": "home 2",
  "pages/about.js": "about 2",
  "assets/logo.txt": "L".repeat(5000),
};

interface Uploaded {
  version: string;
  zip: Uint8Array;
  sha256: string;
  manifest: string;
  manifestSha256: string;
  signature: string;
}

async function manifestOf(files: Record<string, string>): Promise<string> {
  return manifestText(
    await Promise.all(
      Object.entries(files).map(async ([path, text]) => ({
        path,
        size: utf8Encode(text).length,
        sha256: await sha256Hex(utf8Encode(text)),
      })),
    ),
  );
}

/** The publisher's signature of a package statement. */
async function statementSignature(mp: string, version: string, zip: Uint8Array, manifest: string, by = PUBLISHER) {
  return signWith(
    by,
    statementText({
      miniProgram: mp,
      version,
      sha256: await sha256Hex(zip),
      size: zip.length,
      manifestSha256: await sha256Hex(utf8Encode(manifest)),
    }),
  );
}

/** Uploads `files` as `version`, signed by the publisher. */
async function uploadSigned(token: string, mp: string, version: string, files: Record<string, string>) {
  const zip = makeZip(files);
  const manifest = await manifestOf(files);
  const signature = await statementSignature(mp, version, zip, manifest);
  await expectJson(
    await call(`/v1/admin/mini-programs/${mp}/versions?version=${version}`, {
      method: "POST",
      token,
      headers: {
        "content-type": "application/zip",
        "updraft-publisher-signature": signature,
        "updraft-publisher-key-id": rawKeyId(publicKeyOf(PUBLISHER)),
      },
      body: zip,
    }),
    201,
  );
  const uploaded: Uploaded = {
    version,
    zip,
    sha256: await sha256Hex(zip),
    manifest,
    manifestSha256: await sha256Hex(utf8Encode(manifest)),
    signature,
  };
  return uploaded;
}

async function releaseFull(token: string, mp: string, appKey: string, version: string, rollback = false) {
  const release = await createRelease(token, { miniProgramId: mp, version, appId: appKey, env: "prod", rollback });
  await goFull(token, release.id);
  return release;
}

// ---- the attacker's layer ------------------------------------------------------------------------

/** A check answer as it travels: its bytes and the two signature headers. */
interface SignedAnswer {
  bytes: Uint8Array;
  signature: string;
  keyId: string;
}

interface Tamper {
  /** Edits the check request before the worker sees it (the SDK still expects its own). */
  request?: (body: Json) => void;
  /** Replaces the worker's (genuine) check answer. */
  answer?: (genuine: SignedAnswer) => SignedAnswer | Promise<SignedAnswer>;
  /** The body of GET /v1/keys. */
  keys?: () => unknown;
  /** Replaces a package or manifest download (the worker's genuine response is given). */
  download?: (url: string, genuine: Response) => Response | Promise<Response>;
}

const worker = (url: string, init: Parameters<FetchLike>[1]): Promise<Response> =>
  exports.default.fetch(
    new Request(url, { method: init.method, headers: init.headers, ...(init.body ? { body: init.body } : {}) }),
  );

function tampering(t: Tamper): FetchLike {
  return async (url, init) => {
    const path = new URL(url).pathname;
    if (path === "/v1/keys" && t.keys) return Response.json(t.keys());
    if (path === "/v1/check" && init.method === "POST") {
      let body = init.body;
      if (t.request && body) {
        const json = JSON.parse(utf8Decode(body) ?? "") as Json;
        t.request(json);
        body = utf8Encode(JSON.stringify(json));
      }
      const res = await worker(url, { ...init, ...(body ? { body } : {}) });
      if (!t.answer || res.status !== 200) return res;
      const out = await t.answer({
        bytes: new Uint8Array(await res.arrayBuffer()),
        signature: res.headers.get("updraft-signature") ?? "",
        keyId: res.headers.get("updraft-key-id") ?? "",
      });
      return new Response(out.bytes, {
        headers: {
          "content-type": "application/json",
          "updraft-signature": out.signature,
          "updraft-key-id": out.keyId,
        },
      });
    }
    const res = await worker(url, init);
    return t.download && path.startsWith("/v1/packages/") ? t.download(url, res) : res;
  };
}

const parse = (bytes: Uint8Array) => JSON.parse(utf8Decode(bytes) ?? "") as Json & { results: Json[] };

/** Edits the answer and signs it again with `by` (the service's own key unless said otherwise). */
function resign(
  edit: (answer: Json & { results: Json[] }) => void,
  by: string = TEST_SEEDS.current,
  keyId = "test-key",
) {
  return (genuine: SignedAnswer): SignedAnswer => {
    const answer = parse(genuine.bytes);
    edit(answer);
    answer.keyId = keyId;
    const bytes = utf8Encode(JSON.stringify(answer));
    return { bytes, signature: signWith(by, bytes), keyId };
  };
}

/** Serves `bytes` for a download, then (when `endless`) garbage forever; `cancelled()` tells whether the reader hung up. */
function served(bytes: Uint8Array, endless = false) {
  let cancelled = false;
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      sent += bytes.length;
      if (!endless) controller.close();
    },
    pull(controller) {
      // Bounded so that a client that never stops fails the test instead of hanging it.
      if (sent > 16 * 1024 * 1024) {
        controller.error(new Error("the reader never stopped"));
        return;
      }
      controller.enqueue(new Uint8Array(64 * 1024).fill(0x5a));
      sent += 64 * 1024;
    },
    cancel() {
      cancelled = true;
    },
  });
  return {
    response: new Response(stream, { headers: { "content-type": "application/zip" } }),
    cancelled: () => cancelled,
    sent: () => sent,
  };
}

function flipByte(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[at] = (copy[at] as number) ^ 0x01;
  return copy;
}

// ---- the world -----------------------------------------------------------------------------------

let token: string;
let appKey: string;
let otherAppKey: string;
let mp: string;
let v09: Uploaded;
let v1: Uploaded;
let v2: Uploaded;
let v2Sequence: number;
let publisherKeyId: string;
/** A device with 1.0.0 installed through the SDK: every case starts from a copy of it. */
let baseline: MemoryStorage;

function device(storage: MemoryStorage, tamper: Tamper = {}, extra: Partial<ClientOptions> = {}): UpdraftClient {
  return createClient({
    baseUrl: BASE,
    appId: appKey,
    env: "prod",
    deviceId: DEVICE,
    device: { appVersion: "8.2.0", platform: "android" },
    rootKeys: [publicKeyOf(TEST_SEEDS.root)],
    publisherKeys: [publicKeyOf(PUBLISHER)],
    storage,
    http: fetchHttp(tampering(tamper)),
    sleep: async () => undefined,
    ...extra,
  });
}

/** A genuine check answer, as another (earlier) check with `nonce` got it: by default this device's on 1.0.0. */
async function genuineAnswer(nonce: string, appId = appKey, version: string | null = "1.0.0"): Promise<SignedAnswer> {
  const res = await call("/v1/check", {
    method: "POST",
    json: { appId, env: "prod", deviceId: DEVICE, nonce, miniPrograms: [{ id: mp, version }] },
  });
  expect(res.status).toBe(200);
  return {
    bytes: new Uint8Array(await res.arrayBuffer()),
    signature: res.headers.get("updraft-signature") ?? "",
    keyId: res.headers.get("updraft-key-id") ?? "",
  };
}

/** The 0.9.0 result a thief of the service key could offer: genuinely publisher-signed, never released. */
function forgedLowerResult(action: "update" | "rollback", sequence: number) {
  return {
    id: mp,
    action,
    version: "0.9.0",
    releaseId: "rel_forged",
    sequence,
    updateMode: "sync",
    package: {
      url: `${BASE}/v1/packages/${v09.sha256}`,
      sha256: v09.sha256,
      size: v09.zip.length,
      manifestUrl: `${BASE}/v1/packages/${v09.manifestSha256}`,
      manifestSha256: v09.manifestSha256,
    },
    signature: v09.signature,
    publisherKeyId,
    config: {},
  };
}

beforeAll(async () => {
  const ws = await makeWorkspace();
  token = ws.token;
  appKey = (await createApp(token)).key;
  otherAppKey = (await createApp(token)).key;
  mp = (await createMiniProgram(token)).key;
  const key = await expectJson<{ keyId: string }>(
    await call("/v1/admin/publisher-keys", {
      method: "POST",
      token,
      json: { name: "release pipeline", publicKey: publicKeyOf(PUBLISHER) },
    }),
    201,
  );
  publisherKeyId = key.keyId;
  v09 = await uploadSigned(token, mp, "0.9.0", FILES_0_9);
  v1 = await uploadSigned(token, mp, "1.0.0", FILES_1);
  await releaseFull(token, mp, appKey, "1.0.0");
  baseline = memoryStorage();
  const first = await device(baseline).update(mp);
  expect(first).toMatchObject({ action: "update", installed: { version: "1.0.0", bundled: false } });
  v2 = await uploadSigned(token, mp, "2.0.0", FILES_2);
  v2Sequence = (await releaseFull(token, mp, appKey, "2.0.0")).seq;
  // The other host app delivers 0.9.0: its answers carry a genuinely signed result for the same mini program.
  await releaseFull(token, mp, otherAppKey, "0.9.0");
}, 60_000);

// ---- the cases -----------------------------------------------------------------------------------

interface Case {
  name: string;
  code: UpdraftErrorCode;
  /** Builds the attack (may read the world set up in beforeAll). */
  attack: () => Promise<{
    tamper?: Tamper;
    extra?: Partial<ClientOptions>;
    prepare?: (s: MemoryStorage) => Promise<void>;
  }>;
  /** Extra checks after the refusal. */
  after?: () => void;
}

let endless: ReturnType<typeof served> | undefined;

const CASES: Case[] = [
  {
    name: "a flipped byte in the answer body",
    code: "SIGNATURE_INVALID",
    attack: async () => ({
      tamper: {
        answer: (g) => {
          const at = (utf8Decode(g.bytes) ?? "").indexOf('"version":"2.0.0"') + '"version":"'.length;
          return { ...g, bytes: flipByte(g.bytes, at) }; // 2.0.0 → 3.0.0, signature unchanged
        },
      },
    }),
  },
  {
    name: "a flipped byte in the package",
    code: "HASH_MISMATCH",
    attack: async () => ({
      tamper: {
        download: async (url, res) =>
          url.endsWith(v2.sha256) ? served(flipByte(new Uint8Array(await res.arrayBuffer()), 200)).response : res,
      },
    }),
  },
  ...(["signed", "development"] as const).map(
    (client): Case => ({
      // One file changed and the package re-zipped; the service key re-signs an answer naming the new
      // zip's sha256 and size, so the package hash is consistent. The publisher statement no longer
      // verifies; a development client (unsigned allowed, signature stripped) still has the manifest.
      name: `a changed file in a re-zipped package with a consistent hash (${client} client)`,
      code: client === "signed" ? "PUBLISHER_SIGNATURE_INVALID" : "MANIFEST_MISMATCH",
      attack: async () => {
        const zip = makeZip({ ...FILES_2, "index.js": "console.log('0wned')" });
        const sha = await sha256Hex(zip);
        return {
          extra: client === "signed" ? {} : { allowUnsigned: true },
          tamper: {
            answer: resign((a) => {
              const r = a.results[0] as Json & { package: Json };
              Object.assign(r.package, { url: `${BASE}/v1/packages/${sha}`, sha256: sha, size: zip.length });
              if (client === "development") Object.assign(r, { signature: null, publisherKeyId: null });
            }),
            download: (url, res) => (url.endsWith(sha) ? served(zip).response : res),
          },
        };
      },
    }),
  ),
  {
    name: "a replayed answer (the genuine answer to an earlier check)",
    code: "NONCE_MISMATCH",
    attack: async () => {
      const earlier = await genuineAnswer("an-earlier-check");
      return { tamper: { answer: () => earlier } };
    },
  },
  {
    name: "an expired answer (re-signed by the service key with an old issuedAt)",
    code: "ANSWER_EXPIRED",
    attack: async () => ({
      tamper: {
        answer: resign((a) => {
          a.issuedAt = Date.now() - 10 * 60_000;
          a.expiresAt = (a.issuedAt as number) + 300_000;
        }),
      },
    }),
  },
  {
    name: "an unknown key (a stranger's)",
    code: "KEY_UNKNOWN",
    attack: async () => ({ tamper: { answer: resign(() => undefined, TEST_SEEDS.stranger, "stranger-key") } }),
  },
  {
    name: "a stranger's signature under the service's key id",
    code: "SIGNATURE_INVALID",
    attack: async () => ({ tamper: { answer: resign(() => undefined, TEST_SEEDS.stranger, "test-key") } }),
  },
  {
    name: "a revoked key (dropped by key set version 3, signed by the root)",
    code: "KEY_REVOKED",
    attack: async () => {
      const payload = testKeysetPayload();
      const v3 = {
        ...payload,
        version: 3,
        issuedAt: Date.now() - 60_000,
        keys: [{ ...payload.keys[0], keyId: "test-key-next", publicKey: publicKeyOf(TEST_SEEDS.stranger) }],
      };
      const keyset = await signedKeyset(v3);
      return {
        tamper: { keys: () => ({ keys: [], keyset, keysetVersion: 3 }) },
        // An hour later: the trusted key set is due for a refresh, which brings version 3.
        prepare: async (s) => {
          const record = JSON.parse((await s.get("keyset")) ?? "{}") as Json;
          await s.set("keyset", JSON.stringify({ ...record, checkedAt: 0 }));
        },
      };
    },
  },
  {
    name: "a key whose rotation overlap has ended (test-key-old, notAfter 2026-01-01)",
    code: "KEY_EXPIRED",
    attack: async () => ({ tamper: { answer: resign(() => undefined, TEST_SEEDS.old, "test-key-old") } }),
  },
  ...(
    [
      ["app", (b: Json) => (b.appId = otherAppKey)],
      ["environment", (b: Json) => (b.env = "test")],
      ["device", (b: Json) => (b.deviceId = "another-device")],
    ] as const
  ).map(
    ([what, edit]): Case => ({
      name: `a genuine answer for another ${what}`,
      code: "WRONG_TARGET",
      attack: async () => ({ tamper: { request: edit } }),
    }),
  ),
  {
    name: "a lower version without a signed rollback",
    code: "DOWNGRADE_REFUSED",
    attack: async () => ({
      tamper: {
        answer: resign((a) => {
          a.results = [forgedLowerResult("update", v2Sequence + 10)];
        }),
      },
    }),
  },
  {
    name: "a lower version by a rollback whose sequence is not above the installed one",
    code: "DOWNGRADE_REFUSED",
    attack: async () => {
      const installed = await device(baseline.clone()).installed(mp);
      return {
        tamper: {
          answer: resign((a) => {
            a.results = [forgedLowerResult("rollback", installed?.sequence ?? 0)];
          }),
        },
      };
    },
  },
  {
    name: "a package longer than signed (endless data)",
    code: "SIZE_EXCEEDED",
    attack: async () => ({
      tamper: {
        download: async (url, res) => {
          if (!url.endsWith(v2.sha256)) return res;
          endless = served(new Uint8Array(await res.arrayBuffer()), true);
          return endless.response;
        },
      },
    }),
    after: () => {
      expect(endless?.cancelled()).toBe(true);
      expect(endless?.sent()).toBeLessThan(v2.zip.length + 4 * 64 * 1024);
    },
  },
  {
    name: "a missing publisher signature (stripped, answer re-signed)",
    code: "PUBLISHER_SIGNATURE_MISSING",
    attack: async () => ({
      tamper: {
        answer: resign((a) => {
          Object.assign(a.results[0] as Json, { signature: null, publisherKeyId: null });
        }),
      },
    }),
  },
  {
    name: "a wrong publisher signature (another version's)",
    code: "PUBLISHER_SIGNATURE_INVALID",
    attack: async () => ({
      tamper: {
        answer: resign((a) => {
          (a.results[0] as Json).signature = v1.signature;
        }),
      },
    }),
  },
  {
    name: "a revoked publisher key (no longer pinned by the host app)",
    code: "PUBLISHER_SIGNATURE_UNTRUSTED",
    attack: async () => ({ extra: { publisherKeys: [publicKeyOf(OTHER_PUBLISHER)] } }),
  },
  {
    name: "a result cut from one signed answer and pasted into another (mix-and-match)",
    code: "SIGNATURE_INVALID",
    attack: async () => {
      // The other app's signed answer offers 0.9.0 for the same mini program: its result, pasted into
      // this device's genuine answer (signature header kept), would move the device to 0.9.0.
      const other = parse((await genuineAnswer("another-check", otherAppKey, null)).bytes);
      expect(other.results[0]).toMatchObject({ action: "update", version: "0.9.0" });
      return {
        tamper: {
          answer: (g) => {
            const answer = parse(g.bytes);
            answer.results = [other.results[0] as Json];
            return { ...g, bytes: utf8Encode(JSON.stringify(answer)) };
          },
        },
      };
    },
  },
];

describe("the SDK against the real worker", () => {
  it("on the previous version, checks, downloads, verifies and installs exactly the target's files", async () => {
    const storage = baseline.clone();
    const client = device(storage);
    expect(await client.installed(mp)).toMatchObject({ version: "1.0.0" });
    const outcome = await client.update(mp);
    expect(outcome).toMatchObject({ action: "update", installed: { version: "2.0.0", sequence: v2Sequence } });
    const installed = await client.installed(mp);
    expect(installed).toMatchObject({ sha256: v2.sha256, manifestSha256: v2.manifestSha256, bundled: false });
    expect(storage.files(installed?.fileSet ?? "")).toEqual(Object.keys(FILES_2).sort());
    for (const [path, text] of Object.entries(FILES_2)) {
      expect(utf8Decode((await client.readFile(mp, path)) ?? new Uint8Array()), path).toBe(text);
    }
    await client.cleanup();
    expect(await storage.listFileSets()).toEqual([installed?.fileSet]);
    // Nothing newer: the next check says so, and the device reports what it has.
    expect((await client.update(mp)).action).toBe("none");
  });

  for (const c of CASES) {
    it(`refuses ${c.name}: ${c.code}, installed version intact`, async () => {
      const storage = baseline.clone();
      const { tamper, extra, prepare } = await c.attack();
      await prepare?.(storage);
      const client = device(storage, tamper, extra);
      const before = await client.installed(mp);
      const setsBefore = await storage.listFileSets();
      expect(before).toMatchObject({ version: "1.0.0" });

      const error = await client.update(mp).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isUpdraftError(error) ? error.code : error).toBe(c.code);

      expect(await client.installed(mp)).toEqual(before);
      expect(await storage.listFileSets()).toEqual(setsBefore);
      expect(utf8Decode((await client.readFile(mp, "index.js")) ?? new Uint8Array())).toBe(FILES_1["index.js"]);
      c.after?.();
    });
  }
});

describe("a signed rollback through the SDK", () => {
  it("moves a device on 2.0.0 back to 1.0.0, and only with the rollback's higher sequence", async () => {
    const app = (await createApp(token)).key;
    await releaseFull(token, mp, app, "1.0.0");
    const two = await releaseFull(token, mp, app, "2.0.0");
    const storage = memoryStorage();
    const client = device(storage, {}, { appId: app });
    expect((await client.update(mp)).installed).toMatchObject({ version: "2.0.0" });
    const rollback = await releaseFull(token, mp, app, "1.0.0", true);
    const outcome = await client.update(mp);
    expect(outcome).toMatchObject({ action: "rollback", installed: { version: "1.0.0", sequence: rollback.seq } });
    const result = (outcome as { result: UpdateResult }).result;
    expect(result.sequence).toBeGreaterThan(two.seq);
    expect(utf8Decode((await client.readFile(mp, "index.js")) ?? new Uint8Array())).toBe(FILES_1["index.js"]);
  });
});
