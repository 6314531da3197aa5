import { AppError } from "./errors";

/**
 * The base of every package URL in a manifest, from the `PACKAGE_BASE_URL` setting: unset or empty
 * means the origin of each check request; otherwise an absolute http(s) URL with no credentials,
 * query or fragment (a CDN host, optionally with a path prefix). Returns the base that
 * `/<sha256>` is appended to, e.g. `https://cdn.example.com/updraft/v1/packages`.
 * An invalid value throws SERVICE_MISCONFIGURED: every request then fails loudly rather than
 * handing devices a broken URL.
 */
export function packageBaseFrom(setting: string | undefined): string | null {
  if (setting === undefined || setting.trim() === "") return null;
  const value = setting.trim();
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {}
  const problem =
    url === null
      ? "is not an absolute URL"
      : url.protocol !== "https:" && url.protocol !== "http:"
        ? "must use https (or http)"
        : url.username !== "" || url.password !== ""
          ? "must not carry credentials"
          : value.includes("?") || value.includes("#")
            ? "must not have a query or a fragment"
            : null;
  if (url === null || problem !== null) {
    throw new AppError(
      "SERVICE_MISCONFIGURED",
      `The PACKAGE_BASE_URL setting ${problem ?? "is invalid"}: set it to the public base URL of package downloads, e.g. https://cdn.example.com, or remove it.`,
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}/v1/packages`;
}
