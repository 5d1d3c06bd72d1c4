import { Worker } from "node:worker_threads";
import type { Issue, ModelSpec, SimulationInput, SimulationResult } from "@plateau/contract";
import type { Tf } from "@plateau/training";
import { countParamsWithoutBuilding, SpecError } from "@plateau/training/checks";

/**
 * The API's only door to tfjs (a test holds this): building a submitted model once to count its
 * parameters and catch shape errors — on a worker thread (model-check-thread.ts), for the models that
 * cannot be counted from their configs — and replaying callbacks for /v1/callbacks/simulate. tfjs loads on
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

/**
 * Parameters of the model a spec describes; throws SpecError when it cannot be built. Most `layers`
 * models are counted from their configs alone; the others are built off the event loop.
 */
export async function countModelParams(model: ModelSpec): Promise<number> {
  return countParamsWithoutBuilding(model) ?? builder().count(model);
}

// From source (tsx, vitest) the thread runs model-check-thread.ts through tsx; in the production build
// it is dist/model-check-thread.js beside the bundle this code is in (tsup.config.ts).
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const THREAD = new URL(FROM_SOURCE ? "./model-check-thread.ts" : "./model-check-thread.js", import.meta.url);

interface Answer {
  id: number;
  count?: number;
  message?: string;
  issues?: Issue[];
}

let thread: ReturnType<typeof startThread> | undefined;

function builder() {
  thread ??= startThread();
  return thread;
}

/** The build thread, started on first use; one that dies fails what it was asked, and the next call starts another. */
function startThread() {
  const worker = FROM_SOURCE
    ? // The loader's name travels as data: the production bundle holds this code too, and imports no tsx.
      new Worker(
        `const { workerData } = require("node:worker_threads");
         import(workerData.loader).then(({ register }) => { register(); return import(workerData.thread); });`,
        { eval: true, workerData: { loader: "tsx/esm/api", thread: THREAD.href } },
      )
    : new Worker(THREAD);
  // Shutdown does not wait for it: an idle thread must not keep the process alive.
  worker.unref();
  const asked = new Map<number, { resolve(count: number): void; reject(error: Error): void }>();
  let next = 0;
  const fail = (error: Error) => {
    if (thread?.worker === worker) thread = undefined;
    for (const { reject } of asked.values()) reject(error);
    asked.clear();
  };
  worker.on("message", ({ id, count, message, issues }: Answer) => {
    const waiting = asked.get(id);
    asked.delete(id);
    if (count !== undefined) waiting?.resolve(count);
    else waiting?.reject(issues ? new SpecError(issues) : new Error(message));
  });
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`the model-check thread exited with code ${code}`)));
  return {
    worker,
    count(model: ModelSpec): Promise<number> {
      const id = next++;
      return new Promise<number>((resolve, reject) => {
        asked.set(id, { resolve, reject });
        worker.postMessage({ id, model });
      });
    },
  };
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
