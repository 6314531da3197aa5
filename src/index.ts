import { buildDeps } from "./deps";
import { createFetchHandler } from "./http/app";

export default {
  fetch: createFetchHandler(buildDeps),
} satisfies ExportedHandler<Env>;
export { AdmissionCounter } from "./edge/admission-counter";
export { DeliveryIndex } from "./edge/delivery-index";
