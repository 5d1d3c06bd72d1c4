import Type, { type Static } from "typebox";
import { CallbackSpecSchema } from "./callbacks";
import { CompileSpecSchema } from "./compile";
import { DataSpecSchema } from "./data";
import { FitSpecSchema } from "./fit";
import { ModelSpecSchema } from "./model";

/** Seeds are 32-bit, as numpy's. */
export const MAX_SEED = 2 ** 32 - 1;

/** The POST /v1/jobs body: a Keras `model.fit` call transcribed to JSON, field names as in Keras. */
export const JobSpecSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: "^[A-Za-z0-9][A-Za-z0-9_.\\- ]*$",
      description: "A label for people; need not be unique.",
    }),
    model: ModelSpecSchema,
    compile: CompileSpecSchema,
    data: DataSpecSchema,
    fit: FitSpecSchema,
    seed: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_SEED,
        description:
          "Keras's keras.utils.set_random_seed: weight initialization, shuffling and dropout draw from it, so the same job on the same backend trains the same way twice. Chosen at submission when left out (the effective spec shows it).",
      }),
    ),
    callbacks: Type.Optional(
      Type.Array(CallbackSpecSchema, {
        maxItems: 32,
        description:
          'Keras callbacks as {"type": "<KerasClassName>", ...Keras options}. TerminateOnNaN is added when missing.',
      }),
    ),
  },
  { additionalProperties: false, title: "JobSpec" },
);

export type JobSpec = Static<typeof JobSpecSchema>;
