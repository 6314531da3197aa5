/** The forms of an app key and of an environment name (the admin API refuses any other). */
export const APP_KEY = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const ENV_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * True when (appKey, env) could name a target at all. A device check for any other cannot match
 * one, so it is answered without asking any store or filling any cache.
 */
export function couldBeTarget(appKey: string, env: string): boolean {
  return APP_KEY.test(appKey) && ENV_NAME.test(env);
}

/**
 * The prefixes of the ids Updraft generates (`mp_…`, `al_…`): `<prefix>_` and 20 base32 digits. Routes
 * that take "an id or a key/name" look both up, so a user-chosen mini program key or allowlist name
 * shaped like an id could shadow another resource: such keys and names are refused. App keys and
 * environment names cannot contain `_`, so they never collide. A test keeps this list complete.
 */
export const ID_PREFIXES = [
  "al",
  "app",
  "aud",
  "env",
  "ftr",
  "inv",
  "lc",
  "mem",
  "mp",
  "pat",
  "pub",
  "qr",
  "rel",
  "rmv",
  "tok",
  "ver",
  "whd",
  "ws",
] as const;

const ID_SHAPED = new RegExp(`^(?:${ID_PREFIXES.join("|")})_`, "i");

/** True when a user-chosen key or name starts like a generated id (case-insensitively). */
export function looksLikeId(value: string): boolean {
  return ID_SHAPED.test(value);
}
