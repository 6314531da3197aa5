import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      SIGNING_KEY_SEED: string;
      SIGNING_KEY_ID: string;
      BOOTSTRAP_SECRET: string;
    }
  }
}
