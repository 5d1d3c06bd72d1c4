import Type, { type Static } from "typebox";

const strict = { additionalProperties: false } as const;

export const TABLE_FORMATS = ["csv", "jsonl"] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

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
  Type.Enum([...TABLE_FORMATS], {
    description: "File format; from the file name's extension when left out.",
  }),
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

export type DataSource = Static<typeof DataSourceSchema>;
export type DataSpec = Static<typeof DataSpecSchema>;
