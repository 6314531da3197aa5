// The console's pages, rendered on the server with Hono JSX: no script is needed for any form.
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { OverviewTarget } from "../../usecases/console-overview";

const NAV = [
  ["/console", "Overview"],
  ["/console/reviews", "Review queue"],
  ["/console/allowlists", "Allowlists"],
  ["/console/explain", "Explain"],
] as const;

export function Layout(props: {
  title: string;
  signedIn: boolean;
  csrf?: string;
  /** The navigation entry of this page (marked as the current one). */
  current?: (typeof NAV)[number][0];
  children: Child;
}) {
  return (
    <>
      {raw("<!DOCTYPE html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${props.title} · Updraft console`}</title>
          <link rel="stylesheet" href="/console/assets/console.css" />
          <script src="/console/assets/console.js" defer />
        </head>
        <body>
          <a class="skip" href="#main">
            Skip to the content
          </a>
          <header>
            <strong>Updraft</strong>
            {props.signedIn && (
              <nav aria-label="Console">
                {NAV.map(([href, label]) => (
                  <a href={href} aria-current={props.current === href ? "page" : undefined}>
                    {label}
                  </a>
                ))}
              </nav>
            )}
            {props.signedIn && props.csrf && (
              <form method="post" action="/console/sign-out">
                <input type="hidden" name="_csrf" value={props.csrf} />
                <button type="submit">Sign out</button>
              </form>
            )}
          </header>
          <main id="main">{props.children}</main>
        </body>
      </html>
    </>
  );
}

export function SignInPage(props: {
  error?: string | undefined;
  notice?: string | undefined;
  /** The console page to return to after signing in (already checked by safeNext). */
  next?: string | null;
}) {
  return (
    <Layout title="Sign in" signedIn={false}>
      <h1>Sign in</h1>
      <p class="muted">
        Paste an API token (<code>upd_…</code>). The console keeps it in a cookie only this site can read, for as long
        as the token is valid, at most 12 hours.
      </p>
      {props.notice && <p role="status">{props.notice}</p>}
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      <form method="post" action="/console/sign-in">
        {props.next && <input type="hidden" name="next" value={props.next} />}
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required />
        <p>
          <button type="submit">Sign in</button>
        </p>
      </form>
    </Layout>
  );
}

function percent(basisPoints: number): string {
  return `${basisPoints / 100} %`;
}

export function OverviewPage(props: { targets: OverviewTarget[]; csrf: string }) {
  return (
    <Layout title="Overview" signedIn={true} csrf={props.csrf} current="/console">
      <h1>What is live where</h1>
      {props.targets.length === 0 && <p class="muted">No apps yet.</p>}
      {props.targets.map((t) => (
        <section>
          <h2>
            {t.appName} <span class="muted">{`${t.appKey} · ${t.env}`}</span>
          </h2>
          {t.miniPrograms.length === 0 ? (
            <p class="muted">Nothing live.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Mini program</th>
                  <th scope="col">Live releases</th>
                </tr>
              </thead>
              <tbody>
                {t.miniPrograms.map((mp) => (
                  <tr>
                    <td>{mp.key}</td>
                    <td>
                      {mp.releases.map((r) => (
                        <a class={`pill ${r.status}`} href={`/console/releases/${r.id}`}>
                          {`${r.version} ${r.status}`}
                          {r.basisPoints !== null && ` ${percent(r.basisPoints)}`}
                          {r.ramp !== null && ` · step ${r.ramp.step}/${r.ramp.of}`}
                          {r.gated && ` · gated${r.health ? `: ${r.health.replace("_", " ")}` : ""}`}
                        </a>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </Layout>
  );
}
