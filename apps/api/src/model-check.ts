import type { ModelSpec, SimulationInput, SimulationResult } from "@plateau/contract";
import type { Tf } from "@plateau/training";
import { countParamsWithoutBuilding } from "@plateau/training/checks";

/**
 * The API's only door to tfjs (a test holds this): building a submitted model once to count its
 * parameters and catch shape errors, and replaying callbacks for /v1/callbacks/simulate. tfjs loads on
 * first use, on its plain-JS backend — the API never trains, so the fastest backend is not worth its
 * start-up — and stays loaded.
 */
let loading: Promise<Tf> | undefined;
let module: Promise<typeof import("@plateau/training")> | undefined;

/** The package, imported once: each dynamic import() is a module resolution of its own. */
function training() {
  module ??= import("@plateau/training").catch((error: unknown) => {
    module = undefined;
    throw error;
  });
  return module;
}

function tfjs(): Promise<Tf> {
  loading ??= training()
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

/**
 * Parameters of the model a spec describes; throws SpecError when it cannot be built. Most `layers`
 * models are counted from their configs alone; only the others are built.
 */
export async function countModelParams(model: ModelSpec): Promise<number> {
  const counted = countParamsWithoutBuilding(model);
  if (counted !== null) return counted;
  const tf = await tfjs();
  return (await training()).countModelParams(tf, model);
}

/**
 * A callback failed on the posted values — an expression dividing by zero, a schedule giving a rate
 * that is not > 0: the request's mistake, as it would be the job's. `callbacks` are the indexes of the
 * request's callbacks it may come from.
 */
export class CallbackRunError extends Error {
  constructor(
    message: string,
    readonly callbacks: number[],
  ) {
    super(message);
    this.name = "CallbackRunError";
  }
}

/** Callback types whose options hold expressions (LearningRateScheduler's schedule, Rule's if/then). */
const EXPRESSION_CALLBACKS = new Set(["LearningRateScheduler", "Rule"]);

/** What the callbacks would decide over a recorded metric sequence (validated by the caller). */
export async function simulateCallbacks(input: SimulationInput): Promise<SimulationResult> {
  await tfjs();
  const { simulate, CallbackSpecError, ExpressionError } = await import("@plateau/callbacks");
  try {
    return await simulate(input);
  } catch (error) {
    if (!(error instanceof CallbackSpecError || error instanceof ExpressionError)) throw error;
    const types = input.callbacks.map((callback) => callback.type as string);
    // @plateau/callbacks starts such a message with the callback's type ("Rule on epoch_end: ...").
    const named = types.flatMap((type, i) =>
      error.message.startsWith(`${type}:`) || error.message.startsWith(`${type} `) ? [i] : [],
    );
    const candidates = types.flatMap((type, i) => (EXPRESSION_CALLBACKS.has(type) ? [i] : []));
    throw new CallbackRunError(error.message, named.length > 0 ? named : candidates);
  }
}
