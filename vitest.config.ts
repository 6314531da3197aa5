import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { signedKeyset, testKeysetPayload } from "./test/support/trust.ts";
import { webhookReceiver } from "./test/support/webhook-receiver.ts";

export default defineConfig(async () => {
  const shared = {
    migrations: await readD1Migrations(path.join(import.meta.dirname, "drizzle")),
    keyset: JSON.stringify(await signedKeyset(testKeysetPayload())),
  };
  return {
    test: {
      projects: [
        {
          test: {
            name: "unit",
            environment: "node",
            // CI shares 2 cores between both projects: the 5 s default failed a 4.6 s test there.
            testTimeout: 20_000,
            include: ["test/unit/**/*.test.ts", "packages/*/test/**/*.test.ts"],
          },
        },
        integration(
          shared,
          "integration",
          ["test/integration/**/*.test.ts"],
          ["test/integration/patches*.test.ts", "test/integration/stats*.test.ts"],
          { PATCH_BASE_VERSIONS: "0", STATS: "off" },
        ),
        // Patch builds and event counting run on Queues in the background: only where a test waits for them.
        integration(shared, "patches", ["test/integration/patches*.test.ts"], [], {
          PATCH_BASE_VERSIONS: "5",
          STATS: "off",
        }),
        integration(
          shared,
          "stats",
          ["test/integration/stats*.test.ts"],
          [],
          {
            PATCH_BASE_VERSIONS: "0",
            STATS: "on",
            // Accepted events are sent to the Queue almost at once (tests wait for counts).
            STATS_FLUSH_MS: "20",
            STATS_CHECKS_FLUSH_MS: "20",
            // Failed webhook deliveries are retried at once (stats-webhooks.test.ts waits for eight attempts).
            WEBHOOK_RETRY_SECONDS: "0",
          },
          // Outbound requests go to a scripted webhook receiver in this process (test/support/webhook-receiver.ts).
          { outboundService: webhookReceiver },
        ),
      ],
    },
  };
});

/**
 * A project of tests inside workerd with the real local bindings. `vars` set the background work:
 * PATCH_BASE_VERSIONS "0" turns patch builds off and STATS "off" turns statistics off, so nothing
 * enqueued outlives a test of a project that does not wait for it.
 */
function integration(
  shared: { migrations: Awaited<ReturnType<typeof readD1Migrations>>; keyset: string },
  name: string,
  include: string[],
  exclude: string[],
  vars: Record<string, string>,
  options: { outboundService?: (request: Request) => Promise<Response> } = {},
) {
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: shared.migrations,
            // Test-only key material; production sets these with `wrangler secret put`.
            SIGNING_KEY_SEED: "dGVzdC1zaWduaW5nLWtleS1zZWVkLTMyLWJ5dGVzISE",
            SIGNING_KEY_ID: "test-key",
            // Signed by the test root key (test/support/trust.ts): GET /v1/keys publishes it.
            SIGNING_KEYSET: shared.keyset,
            BOOTSTRAP_SECRET: "test-bootstrap-secret",
            BUCKET_KEY: "000102030405060708090a0b0c0d0e0f",
            MAX_PACKAGE_BYTES: "1048576",
            // Small enough for snapshot-budget.test.ts to reach with a few releases of one mini program.
            PART_MAX_BYTES: "2097152",
            ...vars,
            // Retries at once: the dead-letter test waits for four attempts.
            PATCH_RETRY_SECONDS: "0",
          },
          ...options,
        },
      }),
    ],
    test: {
      name,
      testTimeout: 20_000,
      include,
      exclude,
      setupFiles: ["test/integration/apply-migrations.ts"],
    },
  };
}
