import Type, { type Static } from "typebox";

const strict = { additionalProperties: false } as const;

export const TABLE_FORMATS = ["csv", "jsonl"] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];
/** NumPy files: one array (`np.save`), or named arrays (`np.savez`, `np.savez_compressed`). */
export const ARRAY_FORMATS = ["npy", "npz"] as const;
export const FILE_FORMATS = [...TABLE_FORMATS, ...ARRAY_FORMATS] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];
/** Most dimensions of data, the sample axis included (Conv3D data has 5). */
export const MAX_DATA_RANK = 6;
/** Most named inputs one job's data may feed. */
export const MAX_DATA_INPUTS = 32;

const featureList = Type.Array(Type.String({ minLength: 1 }), {
  minItems: 1,
  description: "Feature columns in order; every column but the label when left out.",
});
const labelColumn = Type.Optional(
  Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
    description:
      "CSV/JSONL (required there): label column (class index, class name, or regression target), or several target columns.",
  }),
);
const fileFormat = Type.Optional(
  Type.Enum([...FILE_FORMATS], {
    description:
      "File format; from the file name's extension (a dataset: from its upload) when left out. An .npy holds x (its labels come from `y`); an .npz holds x and y by name (see `arrays`).",
  }),
);
const inputName = Type.String({ pattern: "^[A-Za-z0-9_.\\-/:]{1,128}$" });
const arrayNames = Type.Optional(
  Type.Object(
    {
      x: Type.Optional(
        Type.Union(
          [
            Type.String({ minLength: 1, maxLength: 128 }),
            Type.Record(inputName, Type.String({ minLength: 1, maxLength: 128 }), {
              minProperties: 1,
              maxProperties: MAX_DATA_INPUTS,
            }),
          ],
          { description: 'The features\' array (default "x"), or one array per model input name.' },
        ),
      ),
      y: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Default "y".' })),
    },
    { ...strict, description: ".npz only: which arrays hold the features and the labels." },
  ),
);
const labelsFile = Type.Optional(
  Type.Union(
    [
      Type.Object({ source: Type.Literal("uri"), uri: Type.String({ pattern: "^s3://[^/]+/.+" }) }, strict),
      Type.Object({ source: Type.Literal("dataset"), id: Type.String({ minLength: 1 }) }, strict),
    ],
    { description: ".npy only (required there): the .npy of labels, one per sample of x." },
  ),
);
/**
 * One sample's numbers: a number, or nested lists of them of any rank. The schema takes any nesting; the
 * service checks each list holds numbers or equal-length lists, and reports the first that does not.
 */
const samples = Type.Array(Type.Union([Type.Number(), Type.Array(Type.Unknown())]), {
  minItems: 1,
  description: `Samples: numbers, or nested lists of numbers of one shape (at most ${MAX_DATA_RANK} dimensions with the sample axis).`,
});

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
    x: Type.Union(
      [
        samples,
        Type.Record(inputName, samples, {
          minProperties: 1,
          maxProperties: MAX_DATA_INPUTS,
          description: "A Functional model's inputs by name (Keras's dict form), the same samples in each.",
        }),
      ],
      {
        description:
          "Samples, each a row of numbers or a nested list (an image [h][w][c], a sequence); or an object of them by input name.",
      },
    ),
    y: { ...samples, description: "One label per sample: class index, target value, or nested targets." },
  },
  uri: {
    source: Type.Literal("uri"),
    uri: Type.String({
      pattern: "^s3://[^/]+/.+",
      description: "s3://bucket/key of a CSV, JSONL, .npy or .npz file.",
    }),
    format: fileFormat,
    label: labelColumn,
    features: Type.Optional(featureList),
    arrays: arrayNames,
    y: labelsFile,
  },
  dataset: {
    source: Type.Literal("dataset"),
    id: Type.String({ minLength: 1, description: "Id returned by POST /v1/datasets." }),
    format: fileFormat,
    label: labelColumn,
    features: Type.Optional(featureList),
    arrays: arrayNames,
    y: labelsFile,
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
