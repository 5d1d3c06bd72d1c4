import type { NamedTensorMap, Optimizer, Tensor, Variable } from "@tensorflow/tfjs";
import type { Tf } from "./backend";

interface Slot {
  originalName: string;
  variable: Variable;
}

/** The accumulators tfjs's AdadeltaOptimizer keeps (private in its typings), reused so save/restore works. */
interface AdadeltaState {
  accumulatedGrads: Slot[];
  accumulatedUpdates: Slot[];
  learningRate: number;
  rho: number;
  epsilon: number;
  incrementIterations(): void;
}

/**
 * Adadelta as Keras computes it. tfjs 4.22 divides by the accumulated squared gradient from *before* this
 * step (zero on the first), so its first update is the raw gradient; Keras (and Zeiler's paper) use the
 * updated accumulator. Everything else — slots, weights, config, class name — is tfjs's own.
 */
export function kerasAdadelta(tf: Tf, learningRate: number, rho: number, epsilon: number): Optimizer {
  class KerasAdadelta extends tf.AdadeltaOptimizer {
    override applyGradients(gradients: NamedTensorMap | { name: string; tensor: Tensor }[]): void {
      const state = this as unknown as AdadeltaState;
      const names = Array.isArray(gradients) ? gradients.map((item) => item.name) : Object.keys(gradients);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        const slot = (suffix: string): Slot => ({
          originalName: `${name}/${suffix}`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        });
        state.accumulatedGrads[i] ??= slot("accum_grad");
        state.accumulatedUpdates[i] ??= slot("accum_var");
        const gradient = Array.isArray(gradients) ? gradients[i].tensor : gradients[name];
        if (gradient == null) return;
        const accumulatedGrad = state.accumulatedGrads[i].variable;
        const accumulatedUpdate = state.accumulatedUpdates[i].variable;
        tf.tidy(() => {
          const { rho, epsilon } = state;
          const newGrad = tf.add(tf.mul(accumulatedGrad, rho), tf.mul(tf.square(gradient), 1 - rho));
          const delta = tf.mul(
            tf.div(tf.sqrt(tf.add(accumulatedUpdate, epsilon)), tf.sqrt(tf.add(newGrad, epsilon))),
            gradient,
          );
          accumulatedGrad.assign(newGrad);
          accumulatedUpdate.assign(tf.add(tf.mul(accumulatedUpdate, rho), tf.mul(tf.square(delta), 1 - rho)));
          value.assign(tf.sub(value, tf.mul(delta, state.learningRate)));
        });
      });
      state.incrementIterations();
    }
  }
  return new KerasAdadelta(learningRate, rho, epsilon);
}
