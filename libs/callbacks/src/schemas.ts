/**
 * JSON schemas of the callback options and their validation. Free of tfjs, so the API can validate job
 * specs and publish OpenAPI without loading TensorFlow (import `@plateau/callbacks/schemas`).
 */

import { schemaIssues } from "@plateau/validation";
import Type, { type Static, type TSchema } from "typebox";
import Value from "typebox/value";
import { type Mode, resolveDirection } from "./monitor";
import { parseTemplate } from "./python-format";
import { type RuleConfig, RuleOptions, ruleOptionIssues } from "./rule-options";
import { LearningRateSchedulerOptions, scheduleOptionIssues } from "./schedules";

export interface SpecIssue {
  /** JSON pointer into the validated value, e.g. `/1/factor`. */
  path: string;
  message: string;
}

const ModeSchema = Type.Union([Type.Literal("auto"), Type.Literal("min"), Type.Literal("max")], {
  default: "auto",
  description:
    "Whether the monitored quantity should go down (min) or up (max); auto infers it from the name.",
});
const monitor = (fallback: string) =>
  Type.String({
    minLength: 1,
    default: fallback,
    description: "Log key to watch, e.g. val_loss or val_acc.",
  });
const verbose = Type.Integer({
  minimum: 0,
  default: 0,
  description: "Kept for Keras compatibility; decisions are always reported as events.",
});
const NullableNumber = (description: string) =>
  Type.Union([Type.Number(), Type.Null()], { default: null, description });

export const ReduceLROnPlateauOptions = Type.Object(
  {
    monitor: Type.Optional(monitor("val_loss")),
    factor: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.1 })),
    patience: Type.Optional(Type.Integer({ minimum: 0, default: 10 })),
    verbose: Type.Optional(verbose),
    mode: Type.Optional(ModeSchema),
    min_delta: Type.Optional(Type.Number({ default: 1e-4 })),
    cooldown: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    min_lr: Type.Optional(Type.Number({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);

export const EarlyStoppingOptions = Type.Object(
  {
    monitor: Type.Optional(monitor("val_loss")),
    min_delta: Type.Optional(Type.Number({ default: 0 })),
    patience: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    verbose: Type.Optional(verbose),
    mode: Type.Optional(ModeSchema),
    baseline: Type.Optional(
      NullableNumber("Stop unless the monitored value beats this within `patience` epochs."),
    ),
    restore_best_weights: Type.Optional(Type.Boolean({ default: false })),
    start_from_epoch: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);

export const TerminateOnNaNOptions = Type.Object(
  { raise_error: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);

// Rendered checkpoint paths become object keys: letters, digits and template punctuation only, no `..`.
const FILEPATH = "^(?!/)(?!.*\\.\\.)[A-Za-z0-9_.\\-{}:+%,=/ ]+$";

export const ModelCheckpointOptions = Type.Object(
  {
    filepath: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: FILEPATH,
        default: "epoch-{epoch:04d}",
        description:
          "Python format template; {epoch} and {batch} are 1-based, other fields come from the logs.",
      }),
    ),
    monitor: Type.Optional(monitor("val_loss")),
    verbose: Type.Optional(verbose),
    save_best_only: Type.Optional(Type.Boolean({ default: false })),
    save_weights_only: Type.Optional(Type.Boolean({ default: false })),
    mode: Type.Optional(ModeSchema),
    save_freq: Type.Optional(
      Type.Union([Type.Literal("epoch"), Type.Integer({ minimum: 1 })], {
        default: "epoch",
        description: '"epoch" or a number of batches, counted across epochs.',
      }),
    ),
    initial_value_threshold: Type.Optional(NullableNumber("Initial best value for save_best_only.")),
  },
  { additionalProperties: false },
);

export const CSVLoggerOptions = Type.Object(
  {
    filename: Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.\\-]+$" }),
    separator: Type.Optional(Type.String({ minLength: 1, maxLength: 1, default: "," })),
    append: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

type Defaulted<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };
export type ReduceLROnPlateauConfig = Defaulted<Static<typeof ReduceLROnPlateauOptions>>;
export type EarlyStoppingConfig = Defaulted<Static<typeof EarlyStoppingOptions>>;
export type TerminateOnNaNConfig = Defaulted<Static<typeof TerminateOnNaNOptions>>;
export type ModelCheckpointConfig = Defaulted<Static<typeof ModelCheckpointOptions>>;
export type CSVLoggerConfig = Defaulted<Static<typeof CSVLoggerOptions>>;

export interface CallbackSchema {
  options: TSchema;
  /** Checks a schema cannot express; `options` already has its defaults applied. */
  check?: (options: Record<string, unknown>) => SpecIssue[];
}

function checkMonitor(options: Record<string, unknown>): SpecIssue[] {
  if (typeof options.monitor !== "string" || !["auto", "min", "max"].includes(options.mode as string))
    return [];
  try {
    resolveDirection(options.monitor as string, options.mode as Mode);
    return [];
  } catch (error) {
    return [{ path: "/monitor", message: (error as Error).message }];
  }
}

function checkTemplate(options: Record<string, unknown>): SpecIssue[] {
  if (typeof options.filepath !== "string") return [];
  try {
    parseTemplate(options.filepath);
    return [];
  } catch (error) {
    return [{ path: "/filepath", message: (error as Error).message }];
  }
}

const checkCheckpoint = (options: Record<string, unknown>) => [
  ...checkTemplate(options),
  ...checkMonitor(options),
];

/** Every callback type a job may use. Adding one: an entry here and one in `registry.ts`. */
export const callbackSchemas: Record<string, CallbackSchema> = {
  ReduceLROnPlateau: { options: ReduceLROnPlateauOptions, check: checkMonitor },
  EarlyStopping: { options: EarlyStoppingOptions, check: checkMonitor },
  TerminateOnNaN: { options: TerminateOnNaNOptions },
  ModelCheckpoint: { options: ModelCheckpointOptions, check: checkCheckpoint },
  CSVLogger: { options: CSVLoggerOptions },
  LearningRateScheduler: {
    options: LearningRateSchedulerOptions,
    check: (options) =>
      scheduleOptionIssues(options.schedule, optionIssues).map((i) => ({
        path: `/schedule${i.path}`,
        message: i.message,
      })),
  },
  Rule: {
    options: RuleOptions,
    check: (options) =>
      ruleOptionIssues(options as RuleConfig, (o) => checkOptions("ModelCheckpoint", o).issues),
  },
};

/**
 * One callback spec in a job: `{"type": "<KerasClassName>", ...keras options}` — one variant per
 * callback, so the OpenAPI document lists every option. `validateCallbackSpecs` gives the errors.
 */
export const CallbackSpec = Type.Unsafe<CallbackSpec>(
  Type.Union(
    Object.entries(callbackSchemas).map(([type, { options }]) =>
      Type.Object(
        {
          type: Type.Literal(type),
          ...(options as unknown as { properties: Record<string, TSchema> }).properties,
        },
        { additionalProperties: false, title: type },
      ),
    ),
    { description: 'A Keras callback: {"type": "<KerasClassName>", ...Keras options}.' },
  ),
);
export type CallbackSpec = { type: string } & Record<string, unknown>;

/** Validates options against a schema; returns them with Keras's defaults filled in, plus any issues. */
export function checkOptions(
  type: string,
  options: unknown,
): { options: Record<string, unknown>; issues: SpecIssue[] } {
  const entry = callbackSchemas[type];
  if (!entry) {
    const known = Object.keys(callbackSchemas).join(", ");
    return {
      options: {},
      issues: [{ path: "/type", message: `unknown callback type '${type}'; known: ${known}` }],
    };
  }
  const issues = optionIssues(entry.options, options);
  const filled = Value.Default(entry.options, structuredClone(options)) as Record<string, unknown>;
  const reported = new Set(issues.map((issue) => issue.path));
  for (const issue of entry.check?.(filled) ?? []) if (!reported.has(issue.path)) issues.push(issue);
  return { options: filled, issues };
}

/** For constructors: throws one error naming every bad option. */
export function parseOptions<T>(type: string, options: unknown): T {
  const { options: filled, issues } = checkOptions(type, options ?? {});
  if (issues.length > 0) {
    const lines = issues.map((issue) => `${issue.path.slice(1) || "options"}: ${issue.message}`);
    throw new Error(`${type}: invalid options: ${lines.join("; ")}`);
  }
  return filled as T;
}

/** Every problem in a list of callback specs, each with its JSON path; builds nothing. */
export function validateCallbackSpecs(specs: unknown): SpecIssue[] {
  if (!Array.isArray(specs)) return [{ path: "", message: "must be an array of callback specs" }];
  return specs.flatMap((spec, index): SpecIssue[] => {
    const at = (issue: SpecIssue) => ({ path: `/${index}${issue.path}`, message: issue.message });
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
      return [{ path: `/${index}`, message: 'must be an object like {"type": "EarlyStopping", ...}' }];
    }
    const { type, ...options } = spec as Record<string, unknown>;
    if (typeof type !== "string")
      return [{ path: `/${index}/type`, message: "must be a callback type name" }];
    return checkOptions(type, options).issues.map(at);
  });
}

const optionIssues = (schema: TSchema, value: unknown) => schemaIssues(schema, value, { field: "option" });
