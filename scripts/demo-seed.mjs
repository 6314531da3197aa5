// Seeds the demo workspace through the public admin API (the same calls a newcomer makes by hand).
import { strToU8, zipSync } from "fflate";

function zip(files) {
  const entries = {};
  for (const [path, text] of Object.entries(files)) entries[path] = [strToU8(text), { mtime: new Date(2020, 0, 1) }];
  return zipSync(entries, { level: 6 });
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
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Creates the demo workspace; returns its admin token. */
export async function seedDemo(base, bootstrapSecret) {
  const res = await fetch(`${base}/v1/bootstrap`, {
    method: "POST",
    headers: { "content-type": "application/json", "updraft-bootstrap-secret": bootstrapSecret },
    body: JSON.stringify({ workspaceName: "Demo", adminName: "Demo Admin", adminEmail: "admin@demo.test" }),
  });
  if (res.status === 409) return null;
  if (!res.ok) throw new Error(`bootstrap → ${res.status} ${await res.text()}`);
  const { token } = await res.json();
  const call = (method, path, body, headers) => api(base, token, method, path, body, headers);

  await call("POST", "/v1/admin/apps", {
    key: "demo-wallet",
    name: "Demo Wallet",
    platforms: ["ios", "android"],
    environments: ["test", "prod"],
  });
  await call("POST", "/v1/admin/mini-programs", {
    key: "demo-pay",
    type: "dsl",
    names: { en: "Pay", "zh-CN": "支付" },
    descriptions: { en: "Pay with the demo wallet" },
    defaultUpdateMode: "async",
    config: { networkAllowlist: ["api.demo-pay.test"], switches: { newCheckout: "off" } },
  });
  await call("POST", "/v1/admin/mini-programs", { key: "demo-coupons", type: "h5", names: { en: "Coupons" } });
  for (const mp of ["demo-pay", "demo-coupons"]) {
    for (const version of ["1.0.0", "1.1.0"]) {
      const bytes = zip({
        "index.js": `console.log("${mp} ${version}");`,
        "app.json": JSON.stringify({ mp, version }),
      });
      await call(
        "POST",
        `/v1/admin/mini-programs/${mp}/versions?version=${version}&compat=%3E%3D8.0.0&releaseNote=Demo%20${version}`,
        bytes,
        {
          "content-type": "application/zip",
        },
      );
    }
  }
  const release = await call("POST", "/v1/admin/releases", {
    miniProgramId: "demo-pay",
    version: "1.1.0",
    appId: "demo-wallet",
    env: "prod",
    config: { switches: { newCheckout: "on" } },
  });
  for (const to of ["in_review", "approved", "full"]) {
    await call("POST", `/v1/admin/releases/${release.id}/transitions`, { to });
  }
  return token;
}
