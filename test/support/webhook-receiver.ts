// A webhook receiver for the `stats` test project (vitest.config.ts): the project's `outboundService`,
// so it sees every outbound request of the Worker under test (and of the tests, which run in the same
// Worker). It runs in the Node process that hosts workerd; its state lives there. Requests to
// RECEIVER_ORIGIN are answered here, any other request goes to the network as it would without it.
//
//   PUT  /__script/<box>    a JSON array of answers (`Scripted`) the next requests to <box> get, in order
//   GET  /__received/<box>  the requests <box> got so far (`Received[]`), oldest first
//   *    /<box>/…           a receiver: recorded, answered with the next scripted answer (200 when none is left)
//
// A box is a name a test makes up (unique per test), so tests never see each other's requests.

/** The origin webhooks in tests point at (https, as the admin API requires). */
export const RECEIVER_ORIGIN = "https://hooks.receiver.test";

/** One scripted answer. */
export interface Scripted {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering (ms). */
  delayMs?: number;
}

/** One request a box got. */
export interface Received {
  method: string;
  /** The path below the box (`/` for the box itself). */
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

const boxes = new Map<string, { script: Scripted[]; received: Received[] }>();
const boxOf = (name: string) => {
  let box = boxes.get(name);
  if (box === undefined) {
    box = { script: [], received: [] };
    boxes.set(name, box);
  }
  return box;
};

/** The outbound service: the receiver for RECEIVER_ORIGIN, the network for everything else. */
export async function webhookReceiver(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.origin !== RECEIVER_ORIGIN) return passThrough(request);
  const [first = "", second = "", ...rest] = url.pathname.split("/").filter(Boolean);
  if (first === "__script" && request.method === "PUT") {
    boxOf(second).script = (await request.json()) as Scripted[];
    return new Response(null, { status: 204 });
  }
  if (first === "__received" && request.method === "GET") {
    return Response.json(boxOf(second).received);
  }
  const box = boxOf(first);
  box.received.push({
    method: request.method,
    path: `/${[second, ...rest].filter(Boolean).join("/")}`,
    headers: Object.fromEntries(request.headers),
    body: await request.text(),
    at: Date.now(),
  });
  const answer = box.script.shift() ?? { status: 200 };
  if (answer.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
  return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers ?? {} });
}

async function passThrough(request: Request): Promise<Response> {
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
  return fetch(request.url, { method: request.method, headers: request.headers, body, redirect: "manual" });
}
