import type { CallbackSpec, CallbackType } from "@plateau/contract";
import type { CallbackContext, KerasCallback } from "./base";
import { CSVLogger } from "./csv-logger";
import { EarlyStopping } from "./early-stopping";
import { LearningRateScheduler } from "./learning-rate-scheduler";
import { ModelCheckpoint } from "./model-checkpoint";
import { ReduceLROnPlateau } from "./reduce-lr-on-plateau";
import { Rule } from "./rule";
import { TerminateOnNaN } from "./terminate-on-nan";
import { Webhook } from "./webhook";

type Create = (options: never, context: CallbackContext) => KerasCallback;

/** How each spec type is built; a type in the contract without a factory here does not compile. */
export const callbackFactories: Record<CallbackType, Create> = {
  ReduceLROnPlateau: (o, ctx) => new ReduceLROnPlateau(o, ctx),
  EarlyStopping: (o, ctx) => new EarlyStopping(o, ctx),
  TerminateOnNaN: (o, ctx) => new TerminateOnNaN(o, ctx),
  ModelCheckpoint: (o, ctx) => new ModelCheckpoint(o, ctx),
  CSVLogger: (o, ctx) => new CSVLogger(o, ctx),
  LearningRateScheduler: (o, ctx) => new LearningRateScheduler(o, ctx),
  Rule: (o, ctx) => new Rule(o, ctx),
  Webhook: (o, ctx) => new Webhook(o, ctx),
};

/**
 * Builds the callbacks of a job. The specs were validated once, at submission (`validateCallbackSpecs`);
 * the constructors fill in defaults and assert only what a schema cannot.
 */
export function callbacksFromSpecs(specs: CallbackSpec[], context: CallbackContext = {}): KerasCallback[] {
  return specs.map(({ type, ...options }) => callbackFactories[type](options as never, context));
}
