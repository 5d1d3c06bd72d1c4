import type { Tensor } from "@tensorflow/tfjs";
import type { Tf } from "./backend";

/**
 * Keras's Rescaling and Normalization preprocessing layers, which tfjs 4.22 lacks, as tfjs layers under
 * Keras's class names and config keys (keras/src/layers/preprocessing/rescaling.py, normalization.py).
 * Normalization holds its mean and variance in its config, not as weights: Keras creates no weights when
 * they are given, so the parameter count matches. Both are elementwise sub/mul/div/sqrt/maximum, kernels
 * every backend (wasm included) has with their gradients.
 */

/** Keras's backend.epsilon(), Normalization's floor for √variance. */
const EPSILON = 1e-7;

/** A nested number list's shape (the lists are checked rectangular at submission, see keras-layers.ts). */
export function nestedShape(value: unknown): number[] {
  const shape: number[] = [];
  let level = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

type Nested = number | Nested[];

interface RescalingConfig {
  scale: Nested;
  offset?: Nested;
  name?: string;
}

interface NormalizationConfig {
  axis?: number | number[] | null;
  mean?: Nested | null;
  variance?: Nested | null;
  invert?: boolean;
  name?: string;
}

type Shape = (number | null)[];
const registered = new WeakSet<object>();

/**
 * The tensor of `value` shaped to broadcast against inputs of rank `rank`: Keras aligns mean/variance
 * dimensions to the kept axes from the right (Normalization.build).
 */
function alignedTo(tf: Tf, value: Nested, keep: number[], rank: number): Tensor {
  const tensor = tf.tensor(value as number[], undefined, "float32");
  const expanded: number[] = new Array(rank).fill(1);
  tensor.shape.forEach((size, i) => {
    expanded[keep[keep.length - tensor.shape.length + i]] = size;
  });
  return tf.reshape(tensor, expanded);
}

/** Registers Rescaling and Normalization with this tfjs, once, so model JSON naming them builds. */
export function registerPreprocessingLayers(tf: Tf): void {
  if (registered.has(tf.serialization)) return;
  registered.add(tf.serialization);

  class Rescaling extends tf.layers.Layer {
    static className = "Rescaling";
    readonly scale: Nested;
    readonly offset: Nested;

    constructor(config: RescalingConfig) {
      super(config);
      this.scale = config.scale;
      this.offset = config.offset ?? 0;
    }

    override build(inputShape: Shape | Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
      for (const value of [this.scale, this.offset]) {
        // NumPy's rule: trailing dimensions equal, or 1.
        const own = nestedShape(value);
        const fits =
          own.length <= shape.length &&
          own.every((size, i) => size === 1 || shape[shape.length - own.length + i] === size);
        if (!fits)
          throw new Error(`Rescaling of shape [${own}] does not broadcast to inputs of shape [${shape}]`);
      }
      this.built = true;
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.tidy(() => {
        const scale = tf.tensor(this.scale as number[], undefined, "float32");
        const offset = tf.tensor(this.offset as number[], undefined, "float32");
        return tf.add(tf.mul(tf.cast(x, "float32"), scale), offset);
      });
    }

    override getConfig() {
      return { ...super.getConfig(), scale: this.scale, offset: this.offset };
    }
  }

  class Normalization extends tf.layers.Layer {
    static className = "Normalization";
    readonly axis: number[];
    readonly mean: Nested;
    readonly variance: Nested;
    readonly invert: boolean;
    private keep: number[] = [];

    constructor(config: NormalizationConfig) {
      super(config);
      const axis = config.axis === undefined ? -1 : config.axis;
      this.axis = axis === null ? [] : Array.isArray(axis) ? axis : [axis];
      if (config.mean == null || config.variance == null) {
        // keras-layers.ts refuses this at submission; a model file could still carry it.
        throw new Error("Normalization needs mean and variance (adapt() is not available)");
      }
      this.mean = config.mean;
      this.variance = config.variance;
      this.invert = config.invert ?? false;
    }

    override build(inputShape: Shape | Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
      const rank = shape.length;
      if (this.axis.some((a) => a < -rank || a >= rank)) {
        throw new Error(`Normalization axis ${JSON.stringify(this.axis)} is outside inputs of rank ${rank}`);
      }
      this.keep = this.axis.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
      const meanShape = nestedShape(this.mean);
      if (meanShape.length > this.keep.length) {
        throw new Error(
          `Normalization mean of shape [${meanShape}] has more dimensions than its axis ${JSON.stringify(this.axis)}`,
        );
      }
      meanShape.forEach((size, i) => {
        const dim = shape[this.keep[this.keep.length - meanShape.length + i]];
        if (dim !== size && size !== 1) {
          throw new Error(
            `Normalization mean of shape [${meanShape}] does not match inputs of shape [${shape}]`,
          );
        }
      });
      this.built = true;
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.tidy(() => {
        const mean = alignedTo(tf, this.mean, this.keep, x.rank);
        const variance = alignedTo(tf, this.variance, this.keep, x.rank);
        const scale = tf.maximum(tf.sqrt(variance), EPSILON);
        const input = tf.cast(x, "float32");
        return this.invert ? tf.add(mean, tf.mul(input, scale)) : tf.div(tf.sub(input, mean), scale);
      });
    }

    override getConfig() {
      return {
        ...super.getConfig(),
        axis: this.axis,
        mean: this.mean,
        variance: this.variance,
        invert: this.invert,
      } as never;
    }
  }

  tf.serialization.registerClass(Rescaling);
  tf.serialization.registerClass(Normalization);
}
