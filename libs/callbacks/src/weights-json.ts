import * as tf from "@tensorflow/tfjs";
import type { JsonValue } from "./base";

/**
 * A weight's values copied out of tfjs, as Keras keeps numpy arrays: nothing to dispose, however a run
 * ends, and plain enough to serialize.
 */
export interface HeldWeight {
  shape: number[];
  values: Float32Array;
}

/** Copies the model's current weights: training goes on updating the variables themselves. */
export async function holdWeights(weights: tf.Tensor[]): Promise<HeldWeight[]> {
  return Promise.all(
    weights.map(async (w) => ({ shape: [...w.shape], values: Float32Array.from(await w.data()) })),
  );
}

/** Sets the model's weights to held values; the model keeps its own copies. */
export function setHeldWeights(model: tf.LayersModel, weights: HeldWeight[]): void {
  const tensors = weights.map((w) => tf.tensor(w.values, w.shape, "float32"));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

/** Weights as plain JSON (float32 bytes in base64), so a callback holding weights can move between workers. */
export function weightsToJson(weights: HeldWeight[]): JsonValue {
  return weights.map((w) => ({
    shape: w.shape,
    data: Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength).toString("base64"),
  }));
}

export function weightsFromJson(value: JsonValue | undefined): HeldWeight[] | null {
  if (!Array.isArray(value)) return null;
  return value.map((entry) => {
    const { shape, data } = entry as { shape: number[]; data: string };
    const bytes = Buffer.from(data, "base64");
    const values = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    );
    return { shape, values };
  });
}
