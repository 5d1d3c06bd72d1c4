import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend, type Tf } from "./backend";
import { LAYER_RULES } from "./keras-layers";
import { registerPreprocessingLayers } from "./preprocessing-layers";

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend("cpu")).tf;
  registerPreprocessingLayers(tf);
});

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The least each layer needs to be constructed. */
const REQUIRED: Record<string, Record<string, unknown>> = {
  InputLayer: { inputShape: [2] },
  Dense: { units: 1 },
  Dropout: { rate: 0.1 },
  Reshape: { targetShape: [1] },
  Activation: { activation: "relu" },
  Conv1D: { filters: 1, kernelSize: 1 },
  Conv2D: { filters: 1, kernelSize: 1 },
  SeparableConv2D: { filters: 1, kernelSize: 1 },
  Normalization: { mean: 0, variance: 1 },
  Embedding: { inputDim: 2, outputDim: 2 },
  SimpleRNN: { units: 1 },
  LSTM: { units: 1 },
  GRU: { units: 1 },
};

// Keys tfjs takes as constructor arguments but does not echo back in getConfig().
const CONSTRUCTOR_ONLY: Record<string, string[]> = { Dense: ["inputDim"], InputLayer: ["batchInputShape"] };

describe("layer rules", () => {
  it("claim only Keras keys that the tfjs layer of that class implements", () => {
    const classes = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const [name, rule] of Object.entries(LAYER_RULES)) {
      const [cls] = classes[name] as unknown as [new (args: object) => { getConfig(): object }];
      // Bidirectional takes the layer it wraps as an object.
      const args =
        name === "Bidirectional" ? { layer: tf.layers.lstm({ units: 1 }) } : (REQUIRED[name] ?? {});
      const known = [...Object.keys(new cls(args).getConfig()), ...(CONSTRUCTOR_ONLY[name] ?? [])];
      const missing = rule.keys.map(camel).filter((key) => !known.includes(key));
      expect({ name, missing }).toEqual({ name, missing: [] });
    }
  });
});
