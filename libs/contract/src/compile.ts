import Type, { type Static, type TSchema } from "typebox";
import {
  LOSS_NAMES,
  METRIC_NAMES,
  OPTIMIZER_DEFAULTS,
  OPTIMIZER_NAMES,
  type OptimizerName,
} from "./keras-names";

const strict = { additionalProperties: false } as const;
const names = (values: readonly string[]) => Type.Enum([...values]);

/** The largest finite float32: tfjs holds optimizer parameters as float32, so anything larger is Infinity. */
export const FLOAT32_MAX = 3.4028234663852886e38;

function optimizerSchema(name: OptimizerName): TSchema {
  const params = Object.fromEntries(
    Object.entries(OPTIMIZER_DEFAULTS[name]).map(([key, value]) => [
      key,
      Type.Optional(
        typeof value === "boolean"
          ? Type.Boolean({ description: `Keras default: ${value}.` })
          : Type.Number({ minimum: 0, maximum: FLOAT32_MAX, description: `Keras default: ${value}.` }),
      ),
    ]),
  );
  return Type.Object({ name: Type.Literal(name), ...params }, { ...strict, title: name });
}

export const OptimizerSpecSchema = Type.Unsafe<OptimizerName | OptimizerSpec>(
  Type.Union([names(OPTIMIZER_NAMES), ...OPTIMIZER_NAMES.map(optimizerSchema)], {
    description:
      'An optimizer by name with Keras defaults ("adam"), or {name, ...Keras parameters}. "momentum" is SGD with momentum 0.9 unless given.',
  }),
);

export const CompileSpecSchema = Type.Object(
  {
    optimizer: OptimizerSpecSchema,
    loss: names(LOSS_NAMES),
    metrics: Type.Optional(
      Type.Array(names(METRIC_NAMES), {
        uniqueItems: true,
        description: 'Keras metric names. tfjs logs accuracy as "acc" (and "val_acc").',
      }),
    ),
  },
  { ...strict, description: "Keras model.compile arguments." },
);

export type OptimizerSpec = { name: OptimizerName } & Record<string, number | boolean | string>;
export type CompileSpec = Static<typeof CompileSpecSchema>;
