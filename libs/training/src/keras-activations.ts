import type { Tensor } from "@tensorflow/tfjs";
import type { Tf } from "./backend";

/**
 * Keras 3 activations whose tfjs 4.22 namesake computes something else, or that tfjs lacks
 * (keras/src/activations/activations.py): hard_sigmoid is relu6(x + 3) / 6 in Keras 3, where tfjs's
 * hard_sigmoid is tf.keras 2's clip(0.2·x + 0.5, 0, 1); hard_silu (alias hard_swish) is x · hard_sigmoid(x).
 * Registered under names without underscores, which tfjs's config reader leaves as written.
 */
export const KERAS_HARD_SIGMOID = "KerasHardSigmoid";
export const KERAS_HARD_SILU = "KerasHardSilu";

const registered = new WeakSet<object>();

/** Registers the activations above with this tfjs, once. */
export function registerKerasActivations(tf: Tf): void {
  if (registered.has(tf.serialization)) return;
  registered.add(tf.serialization);
  const hardSigmoid = (x: Tensor) => tf.div(tf.relu6(tf.add(x, 3)), 6);

  /** What a tfjs layer needs of an activation: apply, and a class name to serialize it under. */
  abstract class KerasActivation extends tf.serialization.Serializable {
    abstract apply(x: Tensor): Tensor;
    getConfig() {
      return {};
    }
  }
  class HardSigmoid extends KerasActivation {
    static className = KERAS_HARD_SIGMOID;
    apply(x: Tensor): Tensor {
      return tf.tidy(() => hardSigmoid(x));
    }
  }
  class HardSilu extends KerasActivation {
    static className = KERAS_HARD_SILU;
    apply(x: Tensor): Tensor {
      return tf.tidy(() => tf.mul(x, hardSigmoid(x)));
    }
  }
  tf.serialization.registerClass(HardSigmoid);
  tf.serialization.registerClass(HardSilu);
}
