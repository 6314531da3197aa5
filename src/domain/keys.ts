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
