import { CallbackSpec } from "@plateau/callbacks/schemas";
import { CompileSpecSchema, DataSpecSchema, FitSpecSchema, ModelSpecSchema } from "@plateau/training";
import Type, { type Static } from "typebox";

/**
 * The POST /v1/jobs body: a Keras `model.fit` call transcribed to JSON, field names as in Keras.
 * Composed from the schemas of @plateau/training and @plateau/callbacks, so the API's validation and
 * its OpenAPI document come from the same place as the code that runs the spec.
 */
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
    callbacks: Type.Optional(
      Type.Array(CallbackSpec, {
        maxItems: 32,
        description:
          'Keras callbacks as {"type": "<KerasClassName>", ...Keras options}. TerminateOnNaN is added when missing.',
      }),
    ),
  },
  { additionalProperties: false, title: "JobSpec" },
);

export type JobSpec = Static<typeof JobSpecSchema>;
