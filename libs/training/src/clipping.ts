import type { Tensor, Variable } from "@tensorflow/tfjs";
import type { Tf } from "./backend";

/** Keras's gradient clipping arguments; at most one is set (checked at submission, as Keras does). */
export interface Clipping {
  clipnorm: number | null;
  clipvalue: number | null;
  global_clipnorm: number | null;
}

/**
 * Gradients clipped as Keras's `BaseOptimizer._clip_gradients` does (keras/src/optimizers/base_optimizer.py):
 * each gradient to an L2 norm of at most clipnorm (`g·c / max(‖g‖, c)`), all of them together to a global
 * norm of at most global_clipnorm (a non-finite global norm makes every gradient NaN, as in Keras), or every
 * element into [-clipvalue, clipvalue]. An argument at 0 clips nothing, as in Keras. Call inside a tidy.
 */
export function clipGradients(tf: Tf, gradients: Tensor[], clip: Clipping): Tensor[] {
  const { clipnorm, clipvalue, global_clipnorm } = clip;
  if (clipnorm) {
    return gradients.map((g) => {
      const sum = tf.sum(tf.square(g), undefined, true);
      // Keras's two-sided where: a zero gradient keeps norm 0 without a NaN from sqrt's gradient path.
      const positive = tf.greater(sum, 0);
      const norm = tf.where(positive, tf.sqrt(tf.where(positive, sum, tf.onesLike(sum))), sum);
      return tf.div(tf.mul(g, clipnorm), tf.maximum(norm, clipnorm));
    });
  }
  if (global_clipnorm) {
    const norm = tf.sqrt(tf.sum(tf.stack(gradients.map((g) => tf.sum(tf.square(g))))));
    const finiteScale = tf.mul(global_clipnorm, tf.minimum(tf.div(1, norm), 1 / global_clipnorm));
    const scale = tf.add(finiteScale, tf.sub(norm, norm));
    return gradients.map((g) => tf.mul(g, scale));
  }
  if (clipvalue) return gradients.map((g) => tf.clipByValue(g, -clipvalue, clipvalue));
  return gradients;
}

/**
 * Keras 3's decoupled weight decay (`BaseOptimizer._apply_weight_decay`): before the update, every trained
 * variable loses `variable · weight_decay · learning_rate`, with the rate of this step.
 */
export function applyWeightDecay(
  tf: Tf,
  variables: Variable[],
  weightDecay: number,
  learningRate: number,
): void {
  for (const variable of variables) {
    variable.assign(tf.sub(variable, tf.mul(tf.mul(variable, weightDecay), learningRate)));
  }
}
