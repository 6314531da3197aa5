// The benchmark's probe Worker (`BENCH_BREAKDOWN=1 npm run bench`, never deployed): the real Worker
// plus POST /probe/* routes that stop the device check's own fast path after each of its stages, so
// the HTTP bench can print what each stage adds to a request:
//   /probe/body    reads the body (as the check does, through readJsonText) and answers "ok";
//   /probe/parse   + JSON parse and validation (parseCheckRequest);
//   /probe/decide  + the decisions (decideAll: snapshot, device profile, canary context, decide);
//   /probe/answer  + the answer: results, JSON body and response, with a stand-in signer;
// the full check then adds the Ed25519 signature and its headers;
//   /probe/twice   the whole check (parse, decide, answer, sign) twice in one request, answering the
//                  second: what it adds over the check is a check's cost with warm caches;
//   /probe/floor   the floor of any signed answer: the body read, parsed and validated, then an answer
//                  of every asked mini program as "none" (no snapshot, no decision), signed and sent
//                  with the check's headers.
import { buildDeps } from "../src/deps";
import { requestOrigin } from "../src/http/client/check";
import { parseCheckRequest } from "../src/http/client/check-request";
import { readJsonText } from "../src/http/json-body";
import { newRequestId } from "../src/http/problem";
import worker from "../src/index";
import { CHECK_TTL_MS, type CheckInput, checkUpdates, decideAll } from "../src/usecases/check-updates";
import type { Deps } from "../src/usecases/ports";

export { AdmissionCounter } from "../src/edge/admission-counter";

const ok = () => new Response("ok");

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method !== "POST" || !path.startsWith("/probe/")) return worker.fetch(request, env, ctx);
    const text = await readJsonText(request);
    if (path === "/probe/body") return ok();
    const input = parseCheckRequest(text);
    if (path === "/probe/parse") return ok();
    const deps = buildDeps(env);
    if (path === "/probe/floor") return floor(deps, input);
    const origin = requestOrigin(request);
    if (path === "/probe/twice") {
      await checkUpdates(deps, input, origin, "http://probe/v1/packages");
      const again = await checkUpdates(deps, parseCheckRequest(text), origin, "http://probe/v1/packages");
      return new Response(again.bytes, {
        headers: { "content-type": "application/json", "updraft-signature": again.signature },
      });
    }
    if (path === "/probe/decide") {
      await decideAll(deps, input, origin, "admit");
      return ok();
    }
    // /probe/answer: the whole check with a stand-in signer, so only the Ed25519 operation is missing.
    const unsigned = { ...deps, signer: { keyId: "probe", sign: async () => "", publicKey: async () => "" } };
    const { bytes } = await checkUpdates(unsigned, input, origin, "http://probe/v1/packages");
    return new Response(bytes, {
      headers: { "content-type": "application/json", "cache-control": "private, no-store" },
    });
  },
} satisfies ExportedHandler<Env>;

/** /probe/floor: what every signed answer costs whatever the decisions (see the top of this file). */
async function floor(deps: Deps, input: CheckInput): Promise<Response> {
  const signer = deps.signer;
  if (signer === null) throw new Error("the bench configures a signing key");
  const issuedAt = Date.now();
  const body =
    `{"issuedAt":${issuedAt},"expiresAt":${issuedAt + CHECK_TTL_MS},"nonce":${JSON.stringify(input.nonce)},` +
    `"keyId":${JSON.stringify(signer.keyId)},"results":[${input.miniPrograms.map((m) => `{"id":${JSON.stringify(m.id)},"action":"none"}`).join(",")}]}`;
  const bytes = new TextEncoder().encode(body);
  return new Response(bytes, {
    headers: {
      "content-type": "application/json",
      "cache-control": "private, no-store",
      "updraft-signature": await signer.sign(bytes),
      "updraft-key-id": signer.keyId,
      "request-id": newRequestId(),
    },
  });
}
