import type { ModelSpec, SimulationInput, SimulationResult } from "@plateau/contract";
import type { Tf } from "@plateau/training";

/**
 * The API's only door to tfjs (a test holds this): building a submitted model once to count its
 * parameters and catch shape errors, and replaying callbacks for /v1/callbacks/simulate. tfjs loads on
 * first use, on its plain-JS backend — the API never trains, so the fastest backend is not worth its
 * start-up — and stays loaded.
 */
let loading: Promise<Tf> | undefined;

function tfjs(): Promise<Tf> {
  loading ??= import("@plateau/training")
    .then(({ selectBackend }) => selectBackend("cpu"))
    .then(
      (backend) => backend.tf,
      (error) => {
        loading = undefined;
        throw error;
      },
    );
  return loading;
}

/** Parameters of the model a spec describes; throws SpecError when it cannot be built. */
export async function countModelParams(model: ModelSpec): Promise<number> {
  const tf = await tfjs();
  const training = await import("@plateau/training");
  return training.countModelParams(tf, model);
}

/** What the callbacks would decide over a recorded metric sequence (validated by the caller). */
export async function simulateCallbacks(input: SimulationInput): Promise<SimulationResult> {
  await tfjs();
  const { simulate } = await import("@plateau/callbacks");
  return simulate(input);
}
