import { OPTIMIZER_DEFAULTS, type OptimizerName } from "@plateau/contract";
import * as tf from "@tensorflow/tfjs";

/** A tfjs optimizer by Keras name with the given rate (Keras's default when left out), for the simulator. */
export function createOptimizer(name: OptimizerName, learningRate?: number): tf.Optimizer {
  const lr = learningRate ?? (OPTIMIZER_DEFAULTS[name].learning_rate as number);
  switch (name) {
    case "sgd":
      return tf.train.sgd(lr);
    case "momentum":
      return tf.train.momentum(lr, 0.9);
    // The simulator trains nothing: an optimizer only holds the rate, so tfjs's Adam holds these.
    case "adam":
    case "adamw":
    case "nadam":
    case "lion":
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
