import type { CallbackContext, KerasCallback } from "./base";
import { CSVLogger } from "./csv-logger";
import { EarlyStopping } from "./early-stopping";
import { LearningRateScheduler } from "./learning-rate-scheduler";
import { ModelCheckpoint } from "./model-checkpoint";
import { ReduceLROnPlateau } from "./reduce-lr-on-plateau";
import { Rule } from "./rule";
import { type CallbackSpec, validateCallbackSpecs } from "./schemas";
import { TerminateOnNaN } from "./terminate-on-nan";

type Create = (options: never, context: CallbackContext) => KerasCallback;

/** How each spec type is built. Adding a type: an entry here and its schema in `schemas.ts`. */
export const callbackFactories: Record<string, Create> = {
  ReduceLROnPlateau: (o, ctx) => new ReduceLROnPlateau(o, ctx),
  EarlyStopping: (o, ctx) => new EarlyStopping(o, ctx),
  TerminateOnNaN: (o, ctx) => new TerminateOnNaN(o, ctx),
  ModelCheckpoint: (o, ctx) => new ModelCheckpoint(o, ctx),
  CSVLogger: (o, ctx) => new CSVLogger(o, ctx),
  LearningRateScheduler: (o, ctx) => new LearningRateScheduler(o, ctx),
  Rule: (o, ctx) => new Rule(o, ctx),
};

/** Builds the callbacks of a job; throws one error listing every problem (see `validateCallbackSpecs`). */
export function callbacksFromSpecs(specs: CallbackSpec[], context: CallbackContext = {}): KerasCallback[] {
  const issues = validateCallbackSpecs(specs);
  if (issues.length > 0) {
    throw new Error(`invalid callbacks: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
  }
  return specs.map(({ type, ...options }) => {
    const create = callbackFactories[type];
    if (!create) throw new Error(`callback type '${type}' has a schema but no factory in registry.ts`);
    return create(options as never, context);
  });
}
