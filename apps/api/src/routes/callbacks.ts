import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { SimulationInput } from "@plateau/callbacks";
import { CallbackSpec, validateCallbackSpecs } from "@plateau/callbacks/schemas";
import { OPTIMIZER_DEFAULTS } from "@plateau/training";
import { type Issue, schemaIssues } from "@plateau/validation";
import Type from "typebox";
import { bodyCheckedByHandler } from "../app";
import type { ApiDeps } from "../deps";
import { ApiError } from "../errors";
import { ErrorRef, Nullable } from "../schemas";
import { validationTf } from "../tfjs";

const strict = { additionalProperties: false } as const;
const Metrics = Type.Record(Type.String(), Type.Number());

const SimulationSchema = Type.Object(
  {
    callbacks: Type.Array(CallbackSpec, { maxItems: 32, description: "Callback specs, as in a job." }),
    optimizer: Type.Optional(
      Type.Object(
        {
          name: Type.Enum(Object.keys(OPTIMIZER_DEFAULTS)),
          learning_rate: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
        },
        { ...strict, description: "Defaults to Keras's compile default, rmsprop at 0.001." },
      ),
    ),
    epochs: Type.Array(
      Type.Object(
        {
          logs: Metrics,
          batches: Type.Optional(
            Type.Array(Metrics, {
              description: "Batch logs; default one batch with the epoch's training logs.",
            }),
          ),
        },
        strict,
      ),
      { minItems: 1, description: "The recorded epoch logs, e.g. {loss, val_loss}, in order." },
    ),
  },
  strict,
);

const CallbackEventSchema = Type.Object({
  callback: Type.String(),
  epoch: Type.Integer(),
  batch: Type.Optional(Type.Integer()),
  action: Type.String(),
  details: Type.Object({}, { additionalProperties: true }),
});

const SimulationResultSchema = Type.Object({
  epochs: Type.Array(
    Type.Object({ epoch: Type.Integer(), learning_rate: Type.Number(), stop_training: Type.Boolean() }),
  ),
  stopped_epoch: Nullable(Type.Integer()),
  checkpoints: Type.Array(
    Type.Object({ epoch: Type.Integer(), batch: Nullable(Type.Integer()), filepath: Type.String() }),
  ),
  restored_weights_from_epoch: Nullable(Type.Integer()),
  final_learning_rate: Type.Number(),
  events: Type.Array(CallbackEventSchema),
  warnings: Type.Array(Type.String()),
});

/** POST /v1/callbacks/simulate: what the callbacks would decide over a recorded metric sequence. */
export const callbackRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app) => {
  app.post(
    "/v1/callbacks/simulate",
    {
      schema: {
        tags: ["callbacks"],
        summary: "Dry-run callbacks over a metric sequence",
        description:
          "Replays the posted epoch logs through the callbacks exactly as a job's fit would call them, without " +
          "training: learning-rate changes, early stop, checkpoints and restores, with the decision events.",
        body: SimulationSchema,
        response: { 200: SimulationResultSchema, 400: ErrorRef },
      },
      // As for jobs: callback options are checked by @plateau/callbacks, every problem with its path.
      validatorCompiler: bodyCheckedByHandler,
    },
    async (request) => {
      const body: unknown = request.body;
      const issues = simulationIssues(body);
      if (issues.length > 0) {
        throw new ApiError(
          400,
          "invalid_request",
          "The simulation request is invalid: fix the fields listed in details.",
          issues,
        );
      }
      // tfjs loads on the first simulation only, on the same backend the job validation uses.
      await validationTf();
      const { simulate } = await import("@plateau/callbacks");
      return simulate(body as SimulationInput);
    },
  );
};

function simulationIssues(body: unknown): Issue[] {
  const issues = schemaIssues(SimulationSchema, body).filter(
    (issue) => !issue.path.startsWith("/callbacks/"),
  );
  const callbacks = (body as { callbacks?: unknown } | null)?.callbacks;
  if (Array.isArray(callbacks)) {
    issues.push(
      ...validateCallbackSpecs(callbacks).map((issue) => ({ ...issue, path: `/callbacks${issue.path}` })),
    );
  }
  return issues;
}
