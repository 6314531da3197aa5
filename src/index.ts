import { buildDeps } from "./deps";
import { createFetchHandler } from "./http/app";
import { createQueueHandler } from "./http/queue";

export default {
  fetch: createFetchHandler(buildDeps),
  queue: createQueueHandler(buildDeps),
} satisfies ExportedHandler<Env>;
export { AdmissionCounter } from "./edge/admission-counter";
export { AudienceMonitor } from "./edge/audience-monitor";
export { DeliveryIndex } from "./edge/delivery-index";
export { ReleaseMonitor } from "./monitor";
