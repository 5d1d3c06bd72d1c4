import iris from "../../../examples/iris-plateau.json";

/** The jobs issue's example job (examples/iris-plateau.json): Keras's callback guide transcribed. */
export type ExampleJob = typeof iris;

/** A fresh deep copy of the example job, for a test to change as it needs. */
export function exampleJob(): ExampleJob {
  return structuredClone(iris);
}
