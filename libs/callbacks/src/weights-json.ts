import * as tf from "@tensorflow/tfjs";
import type { JsonValue } from "./base";

/** Weights as plain JSON (float32 bytes in base64), so a callback holding weights can move between workers. */
export function weightsToJson(weights: tf.Tensor[]): JsonValue {
  return weights.map((w) => ({
    shape: w.shape,
    data: Buffer.from(new Float32Array(w.dataSync()).buffer).toString("base64"),
  }));
}

export function weightsFromJson(value: JsonValue | undefined): tf.Tensor[] | null {
  if (!Array.isArray(value)) return null;
  return value.map((entry) => {
    const { shape, data } = entry as { shape: number[]; data: string };
    const bytes = Buffer.from(data, "base64");
    const values = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    );
    return tf.tensor(values, shape, "float32");
  });
}
