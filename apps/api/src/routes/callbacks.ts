import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type SimulationInput, SimulationInputSchema, SimulationResultSchema } from "@plateau/contract";
import { withCallbackIssues } from "@plateau/spec";
import { bodyCheckedByHandler } from "../app";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef } from "../errors";
import { CallbackRunError, simulateCallbacks } from "../model-check";

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
        body: SimulationInputSchema,
        response: { 200: SimulationResultSchema, 400: ErrorRef },
      },
      // As for jobs: callback options are checked by @plateau/callbacks, every problem with its path.
      validatorCompiler: bodyCheckedByHandler,
    },
    async (request) => {
      const body: unknown = request.body;
      const issues = withCallbackIssues(SimulationInputSchema, body);
      if (issues.length > 0) {
        throw new ApiError(
          400,
          "invalid_request",
          "The simulation request is invalid: fix the fields listed in details.",
          issues,
        );
      }
      try {
        return await simulateCallbacks(body as SimulationInput);
      } catch (error) {
        if (!(error instanceof CallbackRunError)) throw error;
        throw new ApiError(
          400,
          "invalid_request",
          `The callbacks fail on these epochs: ${error.message}.`,
          error.callbacks.map((i) => ({ path: `/callbacks/${i}`, message: error.message })),
        );
      }
    },
  );
};
