import type * as tf from "@tensorflow/tfjs";

/**
 * Every tfjs optimizer keeps its rate in a `learningRate` field that it reads on each step; SGD and
 * Momentum additionally cache `-learningRate` in a tensor that only their `setLearningRate` refreshes.
 */
interface RateHolder {
  learningRate: number;
  setLearningRate?: (learningRate: number) => void;
}

function optimizerOf(model: tf.LayersModel): RateHolder {
  const optimizer = model.optimizer as unknown as RateHolder | undefined;
  if (!optimizer || typeof optimizer.learningRate !== "number") {
    throw new Error("the model has no optimizer with a learning rate; compile it before fitting");
  }
  return optimizer;
}

/** The rate as Keras reads it: Keras keeps it in a float32 variable, so it is read back at float32. */
export function getLearningRate(model: tf.LayersModel): number {
  return Math.fround(optimizerOf(model).learningRate);
}

/** Sets the rate used from the very next training step on, stored at float32 as Keras stores it. */
export function setLearningRate(model: tf.LayersModel, learningRate: number): void {
  if (!Number.isFinite(learningRate) || learningRate < 0) {
    throw new Error(`learning rate must be a finite number >= 0, got ${learningRate}`);
  }
  const optimizer = optimizerOf(model);
  const rate = Math.fround(learningRate);
  if (typeof optimizer.setLearningRate === "function") optimizer.setLearningRate(rate);
  else optimizer.learningRate = rate;
}
