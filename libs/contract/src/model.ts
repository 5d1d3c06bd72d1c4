import Type, { type Static } from "typebox";
import { LAYER_NAMES } from "./keras-names";

/** Bounds that keep checking and building a submitted model cheap, whatever the JSON says. */
export const MAX_LAYERS = 1000;
export const MAX_TENSOR_REFS = 10_000;

const strict = { additionalProperties: false } as const;
export const LayerSpecSchema = Type.Object(
  {
    class_name: Type.String({ description: `Keras layer class name: ${LAYER_NAMES.join(", ")}.` }),
    config: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description:
          'Keras layer arguments in Keras (snake_case) names, e.g. {"units": 64, "activation": "relu", "input_shape": [4]}.',
      }),
    ),
  },
  { ...strict, description: "One Keras layer." },
);

export const ModelSpecSchema = Type.Union(
  [
    Type.Object(
      {
        layers: Type.Array(LayerSpecSchema, {
          minItems: 1,
          maxItems: MAX_LAYERS,
          description: "A Sequential model's layers; the first needs input_shape (or be an InputLayer).",
        }),
      },
      strict,
    ),
    Type.Object(
      {
        keras_json: Type.Union([Type.String(), Type.Record(Type.String(), Type.Unknown())], {
          description:
            "The output of Python Keras model.to_json() (Keras 2 or 3, Sequential or Functional), as text or parsed.",
        }),
      },
      strict,
    ),
  ],
  { description: "The model: a Keras layer list, or Keras model JSON." },
);

export type LayerSpec = Static<typeof LayerSpecSchema>;
/** A model as a Keras layer list (a Sequential model) or as Python Keras `model.to_json()` output. */
export type ModelSpec = Static<typeof ModelSpecSchema>;
