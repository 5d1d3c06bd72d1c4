import Type, { type Static } from "typebox";

const strict = { additionalProperties: false } as const;

export const FitSpecSchema = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, description: "Epoch index to train up to (Keras epochs)." }),
    batch_size: Type.Optional(
      Type.Integer({ minimum: 1, default: 32, description: "Samples per gradient step." }),
    ),
    validation_split: Type.Optional(
      Type.Number({
        minimum: 0,
        exclusiveMaximum: 1,
        description: "Fraction of the rows, taken from the end before shuffling, held out for validation.",
      }),
    ),
    shuffle: Type.Optional(
      Type.Boolean({ default: true, description: "Shuffle the training rows every epoch." }),
    ),
    initial_epoch: Type.Optional(
      Type.Integer({ minimum: 0, default: 0, description: "Epoch to start at (resuming a previous run)." }),
    ),
    class_weight: Type.Optional(
      Type.Record(Type.String({ pattern: "^[0-9]+$" }), Type.Number({ minimum: 0 }), {
        additionalProperties: false,
        description: "Class index → weight of that class's samples in the loss (Keras class_weight).",
      }),
    ),
  },
  { ...strict, description: "Keras model.fit arguments." },
);

export type FitSpec = Static<typeof FitSpecSchema>;
