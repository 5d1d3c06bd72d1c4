import diverging from "../../../examples/diverging.json";
import iris from "../../../examples/iris-plateau.json";

/** The jobs issue's example job (examples/iris-plateau.json): Keras's callback guide transcribed. */
export type ExampleJob = typeof iris;

/** A fresh deep copy of the example job, for a test to change as it needs. */
export function exampleJob(): ExampleJob {
  return structuredClone(iris);
}

/**
 * examples/diverging.json: y = 3x on unnormalized inputs (1…64), fine at lr 1e-5 until a Rule sets 1e6 at
 * epoch 2 — after a save_best_only ModelCheckpoint has saved — so the loss turns non-finite mid-epoch.
 */
export function divergingJob(): typeof diverging {
  return structuredClone(diverging);
}
