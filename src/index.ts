import { buildDeps } from "./deps";
import { createHttpApp } from "./http/app";

const app = createHttpApp(buildDeps);

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
export { AdmissionCounter } from "./edge/admission-counter";
