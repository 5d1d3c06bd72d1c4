import { parentPort } from "node:worker_threads";
import { countModelParams, SpecError, selectBackend } from "@plateau/training";

/**
 * The worker thread model-check.ts builds models on, so that building one (tens of milliseconds, or
 * more for a large model) never holds the API's event loop. One request at a time, in order.
 */
const { tf } = await selectBackend("cpu");
const port = parentPort;
port?.on("message", async ({ id, model }) => {
  try {
    port.postMessage({ id, count: await countModelParams(tf, model) });
  } catch (error) {
    const issues = error instanceof SpecError ? error.issues : undefined;
    port.postMessage({ id, message: (error as Error).message, issues });
  }
});
