import * as tf from "@tensorflow/tfjs";

/** Keras's default rate for each optimizer, used when a spec names an optimizer without a rate. */
export const OPTIMIZER_DEFAULT_LEARNING_RATE = {
  sgd: 0.01,
  momentum: 0.01,
  adam: 0.001,
  adamax: 0.001,
  rmsprop: 0.001,
  adagrad: 0.001,
  adadelta: 0.001,
} as const;

export type OptimizerName = keyof typeof OPTIMIZER_DEFAULT_LEARNING_RATE;

export function createOptimizer(name: OptimizerName, learningRate?: number): tf.Optimizer {
  const lr = learningRate ?? OPTIMIZER_DEFAULT_LEARNING_RATE[name];
  switch (name) {
    case "sgd":
      return tf.train.sgd(lr);
    case "momentum":
      return tf.train.momentum(lr, 0.9);
    case "adam":
      return tf.train.adam(lr);
    case "adamax":
      return tf.train.adamax(lr);
    case "rmsprop":
      return tf.train.rmsprop(lr);
    case "adagrad":
      return tf.train.adagrad(lr);
    case "adadelta":
      return tf.train.adadelta(lr);
  }
}
