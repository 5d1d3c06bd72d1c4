import Type, { type Static, type TSchema } from "typebox";
import { LOSSES, METRICS, OPTIMIZER_DEFAULTS, type OptimizerName } from "./compile";
import { SUPPORTED_LAYERS } from "./keras-config";
import { MAX_LAYERS } from "./keras-json";

/**
 * JSON schemas (TypeBox) for the model, compile, data and fit parts of a job spec. Field names follow
 * Keras. They check shape and types; what only tfjs knows (layer configs, optimizer combinations, file
 * contents) is checked by checkModel / checkCompile / checkFit, which return paths in the same form.
 */

const strict = { additionalProperties: false } as const;
const names = (values: readonly string[]) => Type.Enum([...values]);

export const LayerSpecSchema = Type.Object(
  {
    class_name: Type.String({ description: `Keras layer class name: ${SUPPORTED_LAYERS.join(", ")}.` }),
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

function optimizerSchema(name: OptimizerName): TSchema {
  const params = Object.fromEntries(
    Object.entries(OPTIMIZER_DEFAULTS[name]).map(([key, value]) => [
      key,
      Type.Optional(
        typeof value === "boolean"
          ? Type.Boolean({ description: `Keras default: ${value}.` })
          : Type.Number({ minimum: 0, description: `Keras default: ${value}.` }),
      ),
    ]),
  );
  return Type.Object({ name: Type.Literal(name), ...params }, { ...strict, title: name });
}

const OPTIMIZER_NAMES = Object.keys(OPTIMIZER_DEFAULTS) as OptimizerName[];

export const OptimizerSpecSchema = Type.Union(
  [names(OPTIMIZER_NAMES), ...OPTIMIZER_NAMES.map(optimizerSchema)],
  {
    description:
      'An optimizer by name with Keras defaults ("adam"), or {name, ...Keras parameters}. "momentum" is SGD with momentum 0.9 unless given.',
  },
);

export const CompileSpecSchema = Type.Object(
  {
    optimizer: OptimizerSpecSchema,
    loss: names(Object.keys(LOSSES)),
    metrics: Type.Optional(
      Type.Array(names(Object.keys(METRICS)), {
        uniqueItems: true,
        description: 'Keras metric names. tfjs logs accuracy as "acc" (and "val_acc").',
      }),
    ),
  },
  { ...strict, description: "Keras model.compile arguments." },
);

const featureList = Type.Array(Type.String({ minLength: 1 }), {
  minItems: 1,
  description: "Feature columns in order; every column but the label when left out.",
});
const labelColumn = Type.Union(
  [Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })],
  {
    description: "Label column (class index, class name, or regression target), or several target columns.",
  },
);
const fileFormat = Type.Optional(
  Type.Enum(["csv", "jsonl"], { description: "File format; from the file name's extension when left out." }),
);

const sourceVariants = {
  iris: {
    source: Type.Literal("builtin"),
    name: Type.Literal("iris", {
      description: "Fisher's iris: 150 rows, 4 features, 3 classes (labels 0..2).",
    }),
    seed: Type.Optional(
      Type.Integer({
        default: 0,
        description:
          "Rows come in an order shuffled by this seed (the file is sorted by class, so validation_split, which takes the last rows, would otherwise hold out only virginica).",
      }),
    ),
  },
  synthetic: {
    source: Type.Literal("builtin"),
    name: Type.Enum(["xor", "spirals", "regression"], { description: "Seeded synthetic generator." }),
    samples: Type.Optional(Type.Integer({ minimum: 1, default: 200, description: "Number of rows." })),
    seed: Type.Optional(Type.Integer({ default: 0, description: "Same seed, same rows." })),
    noise: Type.Optional(Type.Number({ minimum: 0, default: 0.1, description: "Gaussian noise std-dev." })),
    features: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, default: 4, description: "Input features (regression)." }),
    ),
  },
  inline: {
    source: Type.Literal("inline"),
    x: Type.Array(Type.Array(Type.Number()), {
      minItems: 1,
      description: "Samples, one row of numbers each.",
    }),
    y: Type.Union([Type.Array(Type.Number()), Type.Array(Type.Array(Type.Number()))], {
      description: "One label per sample: class index, target value, or target vector.",
    }),
  },
  uri: {
    source: Type.Literal("uri"),
    uri: Type.String({ pattern: "^s3://[^/]+/.+", description: "s3://bucket/key of a CSV or JSONL file." }),
    format: fileFormat,
    label: labelColumn,
    features: Type.Optional(featureList),
  },
  dataset: {
    source: Type.Literal("dataset"),
    id: Type.String({ minLength: 1, description: "Id returned by POST /v1/datasets." }),
    format: fileFormat,
    label: labelColumn,
    features: Type.Optional(featureList),
  },
};

const { iris, synthetic, inline, uri, dataset } = sourceVariants;

export const DataSourceSchema = Type.Union(
  [
    Type.Object(iris, strict),
    Type.Object(synthetic, strict),
    Type.Object(inline, strict),
    Type.Object(uri, strict),
    Type.Object(dataset, strict),
  ],
  { description: "Where training rows come from." },
);

const validation = Type.Optional(
  Type.Union(DataSourceSchema.anyOf, {
    description: "Separate validation data (instead of fit.validation_split).",
  }),
);

export const DataSpecSchema = Type.Union(
  [
    Type.Object({ ...iris, validation }, strict),
    Type.Object({ ...synthetic, validation }, strict),
    Type.Object({ ...inline, validation }, strict),
    Type.Object({ ...uri, validation }, strict),
    Type.Object({ ...dataset, validation }, strict),
  ],
  { description: "Training data, and optionally separate validation data." },
);

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

export type DataSource = Static<typeof DataSourceSchema>;
export type DataSpec = Static<typeof DataSpecSchema>;
export type FitSpec = Static<typeof FitSpecSchema>;
