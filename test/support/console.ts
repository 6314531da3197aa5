// Driving the console (docs/console.md) as a browser without script would: sign in for a session
// cookie, read pages (redirects looked at, not followed) and post their forms with the CSRF token.
import { call } from "./workspace";

export const form = (fields: Record<string, string>) => ({
  method: "POST",
  redirect: "manual" as const,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

export function signIn(token: string): Promise<Response> {
  return call("/console/sign-in", form({ token }));
}

export function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  return set.split(";")[0] ?? "";
}

/** A session cookie for the token. */
export async function sessionOf(token: string): Promise<string> {
  return cookieOf(await signIn(token));
}

export const page = (path: string, cookie?: string) =>
  call(path, { redirect: "manual", ...(cookie ? { headers: { cookie } } : {}) });

export const post = (path: string, cookie: string, fields: Record<string, string>) =>
  call(path, { ...form(fields), headers: { "content-type": "application/x-www-form-urlencoded", cookie } });

export const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
