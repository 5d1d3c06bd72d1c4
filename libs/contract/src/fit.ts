import Type, { type Static } from "typebox";
import { DataSourceSchema } from "./data";

const strict = { additionalProperties: false } as const;

/** The largest fit.batch_size: tfjs slices batches of at most the data's rows, so this is a sanity bound. */
export const MAX_BATCH_SIZE = 65_536;

export const FitSpecSchema = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, description: "Epoch index to train up to (Keras epochs)." }),
    batch_size: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_BATCH_SIZE,
        default: 32,
        description: `Samples per gradient step (at most ${MAX_BATCH_SIZE}; a batch never holds more rows than the data has).`,
      }),
    ),
    validation_split: Type.Optional(
      Type.Number({
        minimum: 0,
        exclusiveMaximum: 1,
        description: "Fraction of the rows, taken from the end before shuffling, held out for validation.",
      }),
    ),
    validation_data: Type.Optional(
      Type.Union(DataSourceSchema.anyOf, {
        description:
          "Separate validation data, any data source (Keras validation_data); the same as data.validation, where the effective spec moves it. Not with data.validation or validation_split.",
      }),
    ),
    verbose: Type.Optional(
      Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2), Type.Literal("auto")], {
        description:
          'Keras verbosity (0, 1, 2 or "auto"): accepted and ignored; progress is in the job\'s metrics.',
      }),
    ),
    shuffle: Type.Optional(
      Type.Boolean({ default: true, description: "Shuffle the training rows every epoch." }),
    ),
    initial_epoch: Type.Optional(
      Type.Integer({ minimum: 0, default: 0, description: "Epoch to start at (resuming a previous run)." }),
    ),
    class_weight: Type.Optional(
      Type.Record(Type.String({ pattern: "^[0-9]{1,9}$" }), Type.Number({ minimum: 0 }), {
        additionalProperties: false,
        maxProperties: 10_000,
        description: "Class index → weight of that class's samples in the loss (Keras class_weight).",
      }),
    ),
  },
  { ...strict, description: "Keras model.fit arguments." },
);

export type FitSpec = Static<typeof FitSpecSchema>;
