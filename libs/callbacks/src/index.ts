export {
  type CallbackContext,
  type CallbackEvent,
  CallbackSpecError,
  type JsonObject,
  type JsonValue,
  KerasCallback,
  type WebhookContext,
} from "./base";
export { CSVLogger } from "./csv-logger";
export { EarlyStopping } from "./early-stopping";
export { compileExpression, type Expression, ExpressionError } from "./expression";
export { getLearningRate, setLearningRate } from "./learning-rate";
export { LearningRateScheduler } from "./learning-rate-scheduler";
export { resolveLogs, type UnresolvedLogs } from "./logs";
export { ModelCheckpoint } from "./model-checkpoint";
export { type Direction, type Mode, readMonitor, resolveDirection } from "./monitor";
export { createOptimizer } from "./optimizers";
export { ReduceLROnPlateau } from "./reduce-lr-on-plateau";
export { callbackFactories, callbacksFromSpecs } from "./registry";
export { Rule } from "./rule";
export * from "./schedules";
export { simulate } from "./simulate";
export { type ArtifactSink, type CheckpointArtifact, MemorySink, type SavedModel } from "./sink";
export { type NonFiniteLoss, TerminateOnNaN } from "./terminate-on-nan";
export * from "./validate";
export { Webhook } from "./webhook";
