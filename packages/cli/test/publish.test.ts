// `updraft keygen` and `updraft publish`: the key file, the statement signature (verifiable with
// node:crypto against the registered public key), the upload's query and headers, replays.
import { createHash, createPublicKey, verify } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { statementText } from "@updraft/sdk/canonical";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeServer, json, problem, type Recorded, Scratch } from "./harness.ts";

const scratch = new Scratch();
afterAll(() => scratch.remove());

const SERVER = "https://updraft.test";
const ENV = { UPDRAFT_SERVER: SERVER, UPDRAFT_TOKEN: "upd_secret_token_value" };
const sha = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

function versionAnswer(req: Recorded, extra: Record<string, unknown> = {}) {
  return {
    id: "ver_1",
    miniProgramId: "mp_1",
    version: req.url.searchParams.get("version"),
    sha256: sha(req.body),
    size: req.body.length,
    fileCount: 2,
    publisherKeyId: req.headers.get("updraft-publisher-key-id"),
    ...extra,
  };
}

let keyFile: string;
let publicKey: string;
let keyId: string;

beforeAll(async () => {
  mkdirSync(scratch.path("dist"));
  writeFileSync(scratch.path("dist", "index.js"), "console.log(1)");
  writeFileSync(scratch.path("dist", "app.json"), "{}");
  const made = await scratch.run(["keygen", "--out", "keys/publisher.pem", "--json"]);
  expect(made.code, made.stderr).toBe(0);
  ({ privateKeyFile: keyFile, publicKey, keyId } = JSON.parse(made.stdout));
});

describe("updraft keygen", () => {
  it("writes a PKCS#8 PEM readable only by its owner and prints the raw public key and its key id", () => {
    expect(keyFile).toBe(scratch.path("keys", "publisher.pem"));
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const pem = readFileSync(keyFile, "utf8");
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const raw = createPublicKey(pem).export({ format: "jwk" }).x as string;
    expect(publicKey).toBe(raw);
    expect(keyId).toBe(sha(Buffer.from(raw, "base64url")).slice(0, 16));
  });

  it("makes the key the default publishing key in the config file", () => {
    expect(JSON.parse(readFileSync(scratch.configFile, "utf8")).key).toBe(keyFile);
  });

  it("refuses to overwrite a key file (exit 4)", async () => {
    const again = await scratch.run(["keygen", "--out", "keys/publisher.pem"]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^error: .*already exists; refusing to overwrite/);
  });

  it("registers the public key with --register --name", async () => {
    const server = fakeServer({
      "POST /v1/admin/publisher-keys": (req) =>
        json(
          {
            id: "pub_1",
            keyId: "x",
            name: (req.json as { name: string }).name,
            publicKey: "p",
            createdAt: 0,
            revokedAt: null,
          },
          201,
        ),
    });
    const result = await scratch.run(["keygen", "--out", "k2.pem", "--register", "--name", "ci", "--no-default"], {
      fetch: server.fetch,
      env: ENV,
    });
    expect(result.code, result.stderr).toBe(0);
    const sent = server.requests[0]?.json as { name: string; publicKey: string };
    expect(sent.name).toBe("ci");
    expect(sent.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(result.stdout).toContain('registered   yes, as "ci" (pub_1)');
    expect(JSON.parse(readFileSync(scratch.configFile, "utf8")).key).toBe(keyFile);
  });

  it("--register without --name is a usage error (exit 2), before any key is made", async () => {
    const result = await scratch.run(["keygen", "--out", "k3.pem", "--register"], { env: ENV });
    expect(result.code).toBe(2);
    expect(() => statSync(scratch.path("k3.pem"))).toThrow();
  });
});

describe("updraft publish", () => {
  const routes = (upload: (req: Recorded) => Response) => ({
    "GET /v1/admin/mini-programs/mp_1": () => json({ id: "mp_1", key: "demo-pay" }),
    "GET /v1/admin/mini-programs/demo-pay": () => json({ id: "mp_1", key: "demo-pay" }),
    "POST /v1/admin/mini-programs/mp_1/versions": upload,
    "POST /v1/admin/mini-programs/demo-pay/versions": upload,
  });

  it("signs only what was typed: a mini program key (not an id) and a canonical version", async () => {
    const cases: [string, string][] = [
      ["mp_1", "1.2.0"],
      ["demo-pay", "v1.2.0"],
      ["demo-pay", "1.2.0+build.5"],
      ["demo-pay", "01.2.0"],
    ];
    for (const [mp, version] of cases) {
      const server = fakeServer(routes((req) => json(versionAnswer(req), 201)));
      const result = await scratch.run(["publish", "dist", "--mini-program", mp, "--version", version], {
        fetch: server.fetch,
        env: ENV,
      });
      expect(result.code, `${mp} ${version}`).toBe(2);
      expect(server.requests).toEqual([]);
    }
  });

  it("signs the statement with the default key; the signature verifies with node:crypto", async () => {
    const server = fakeServer(routes((req) => json(versionAnswer(req), 201)));
    const result = await scratch.run(
      [
        "publish",
        "dist",
        "--mini-program",
        "demo-pay",
        "--version",
        "1.2.0",
        "--compat",
        ">=8.0.0",
        "--note",
        "fixes",
        "--json",
      ],
      { fetch: server.fetch, env: ENV },
    );
    expect(result.code, result.stderr).toBe(0);
    const upload = server.requests.find((r) => r.method === "POST") as Recorded;
    expect(upload.url.searchParams.get("version")).toBe("1.2.0");
    expect(upload.url.searchParams.get("compat")).toBe(">=8.0.0");
    expect(upload.url.searchParams.get("releaseNote")).toBe("fixes");
    expect(upload.url.searchParams.has("updateMode")).toBe(false);
    expect(upload.headers.get("content-type")).toBe("application/zip");
    expect(upload.headers.get("authorization")).toBe("Bearer upd_secret_token_value");
    expect(upload.headers.get("updraft-publisher-key-id")).toBe(keyId);
    const out = JSON.parse(result.stdout);
    expect(out.outcome).toBe("created");
    // The statement names the mini program key that was typed; nothing the service says goes in.
    expect(server.requests.filter((r) => r.method === "GET")).toEqual([]);
    const statement = statementText({
      miniProgram: "demo-pay",
      version: "1.2.0",
      sha256: sha(upload.body),
      size: upload.body.length,
      manifestSha256: out.package.manifestSha256,
    });
    const signature = Buffer.from(upload.headers.get("updraft-publisher-signature") as string, "base64url");
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" });
    expect(verify(null, Buffer.from(statement), key, signature)).toBe(true);
    expect(verify(null, Buffer.from(statement.replace("1.2.0", "1.2.1")), key, signature)).toBe(false);
    expect(result.stdout + result.stderr).not.toContain("upd_secret_token_value");
  });

  it("says already published on a replay (200), exit 0", async () => {
    const server = fakeServer(routes((req) => json(versionAnswer(req), 200)));
    const result = await scratch.run(["publish", "dist", "--mini-program", "demo-pay", "--version", "1.2.0"], {
      fetch: server.fetch,
      env: ENV,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Already published: demo-pay 1.2.0 (ver_1)");
  });

  it("notes a replay of a version stored unsigned", async () => {
    const server = fakeServer(routes((req) => json(versionAnswer(req, { publisherKeyId: null }), 200)));
    const result = await scratch.run(["publish", "dist", "--mini-program", "demo-pay", "--version", "1.2.0"], {
      fetch: server.fetch,
      env: ENV,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("stored earlier unsigned");
  });

  it("streams the upload with a progress bar when stderr is a terminal", async () => {
    const server = fakeServer(routes((req) => json(versionAnswer(req), 201)));
    const result = await scratch.run(["publish", "dist", "--mini-program", "demo-pay", "--version", "1.3.0"], {
      fetch: server.fetch,
      env: ENV,
      stderrTTY: true,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("uploading [");
    expect(result.stderr).toContain("100%");
    const upload = server.requests.find((r) => r.method === "POST") as Recorded;
    expect(upload.headers.get("content-length")).toBe(String(upload.body.length));
  });

  it("uploads unsigned only with --unsigned", async () => {
    const server = fakeServer(routes((req) => json(versionAnswer(req), 201)));
    const env = { ...ENV, UPDRAFT_CONFIG: scratch.path("no-config.json") };
    const refused = await scratch.run(["publish", "dist", "--mini-program", "demo-pay", "--version", "2.0.0"], {
      fetch: server.fetch,
      env,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("no publisher key");
    expect(server.requests).toHaveLength(0);
    const unsigned = await scratch.run(
      ["publish", "dist", "--mini-program", "demo-pay", "--version", "2.0.0", "--unsigned"],
      {
        fetch: server.fetch,
        env,
      },
    );
    expect(unsigned.code, unsigned.stderr).toBe(0);
    const upload = server.requests.find((r) => r.method === "POST") as Recorded;
    expect(upload.headers.has("updraft-publisher-signature")).toBe(false);
    expect(server.requests.filter((r) => r.method === "GET")).toHaveLength(0);
  });

  it("shows a refused upload as one problem line, exit 1", async () => {
    const server = fakeServer(
      routes(() =>
        problem(409, "VERSION_CONFLICT", "This version number already exists with different package bytes."),
      ),
    );
    const result = await scratch.run(["publish", "dist", "--mini-program", "demo-pay", "--version", "1.0.0"], {
      fetch: server.fetch,
      env: ENV,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "error: VERSION_CONFLICT (409): This version number already exists with different package bytes.\n",
    );
  });

  it("a missing key file is a local failure (exit 4)", async () => {
    const result = await scratch.run(
      ["publish", "dist", "--mini-program", "demo-pay", "--version", "1.0.0", "--key", join("nope.pem")],
      {
        env: ENV,
      },
    );
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^error: cannot read the publisher key .*nope\.pem: no such file or directory/);
  });
});
