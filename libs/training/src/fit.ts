import type { FitSpec, Issue } from "@plateau/contract";
import type { ModelFitArgs, Tensor } from "@tensorflow/tfjs";
import type { Dataset } from "./data";
import { throwIfIssues } from "./spec-error";

/** Problems the schema cannot see: relations between fit fields and with the data spec. */
export function checkFit(fit: FitSpec, hasValidationSource: boolean, path = "/fit"): Issue[] {
  const issues: Issue[] = [];
  if ((fit.initial_epoch ?? 0) >= fit.epochs) {
    issues.push({
      path: `${path}/initial_epoch`,
      message: `must be less than epochs (${fit.epochs}): Keras trains from initial_epoch up to epochs`,
    });
  }
  if (fit.validation_data !== undefined && hasValidationSource) {
    issues.push({
      path: `${path}/validation_data`,
      message: "data.validation is given too; give one or the other (they are the same thing)",
    });
  }
  if (hasValidationSource && fit.validation_split) {
    issues.push({
      path: `${path}/validation_split`,
      message: "the data spec already has a validation source; give one or the other",
    });
  } else if (fit.validation_data !== undefined && fit.validation_split) {
    issues.push({
      path: `${path}/validation_split`,
      message: "fit.validation_data is given too; give one or the other",
    });
  }
  return issues;
}

/**
 * Keras fit arguments → tfjs's. Both take the last `validation_split` of the rows before shuffling, count
 * `epochs` as the index to stop at (so `initial_epoch` resumes) and weight samples by `class_weight`.
 */
export function fitArgs(fit: FitSpec, validation?: Dataset): ModelFitArgs {
  throwIfIssues(checkFit(fit, validation !== undefined));
  if (fit.validation_data !== undefined) {
    // The effective spec moves it to data.validation at submission, so the worker loads it like any source.
    throwIfIssues([{ path: "/fit/validation_data", message: "must be given as data.validation here" }]);
  }
  return {
    epochs: fit.epochs,
    batchSize: fit.batch_size ?? 32,
    shuffle: fit.shuffle ?? true,
    initialEpoch: fit.initial_epoch ?? 0,
    verbose: 0,
    ...(fit.validation_split ? { validationSplit: fit.validation_split } : {}),
    ...(validation
      ? // tfjs takes inputs by name for validation data as for x, though its type lists only tensors.
        { validationData: [validation.x as Tensor, validation.y] as [Tensor, Tensor] }
      : {}),
    ...(fit.class_weight ? { classWeight: fit.class_weight } : {}),
  };
}

/** Whether training will produce `val_*` logs (`fit.verbose` is accepted and ignored, as logs go to metrics). */
export function hasValidation(fit: FitSpec, validation?: unknown): boolean {
  return validation !== undefined || fit.validation_data !== undefined || (fit.validation_split ?? 0) > 0;
}
