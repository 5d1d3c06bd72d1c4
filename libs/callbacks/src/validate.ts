/**
 * Validation of callback specs: their options against the contract's schemas, then what a schema cannot
 * express (monitor direction, checkpoint templates, schedules, rules). Free of tfjs, so the API checks job
 * specs without loading TensorFlow (import `@plateau/callbacks/validate`).
 */

import {
  CALLBACK_OPTIONS,
  type CallbackConfig,
  type CallbackType,
  CHECKPOINT_NAME_MAX_LENGTH,
  type Issue,
  isCallbackType,
  issuesUnder,
  type RuleConfig,
  WEBHOOK_BATCH_HOOKS,
  WEBHOOK_HOOKS,
  WEBHOOK_UNFIRED_HOOKS,
  withCallbackDefaults,
} from "@plateau/contract";
import { schemaIssues } from "@plateau/validation";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import { CallbackSpecError } from "./callback-spec-error";
import { type Mode, resolveDirection } from "./monitor";
import { TEMPLATE_ASSUMPTIONS, templateMaxLength } from "./python-format";
import { ruleOptionIssues } from "./rule-options";
import { scheduleOptionIssues } from "./schedules";
import { webhookUrlIssues } from "./webhook-target";

type Check = (options: Record<string, unknown>) => Issue[];

function checkMonitor(options: Record<string, unknown>): Issue[] {
  if (typeof options.monitor !== "string" || !["auto", "min", "max"].includes(options.mode as string))
    return [];
  try {
    resolveDirection(options.monitor as string, options.mode as Mode);
    return [];
  } catch (error) {
    return [{ path: "/monitor", message: (error as Error).message }];
  }
}

/**
 * A checkpoint template must parse, use formats the renderer supports, and render to a name that fits
 * the storage's one-segment limit whatever the values (see templateMaxLength for what it assumes).
 */
function checkTemplate(options: Record<string, unknown>): Issue[] {
  if (typeof options.filepath !== "string") return [];
  try {
    const longest = templateMaxLength(options.filepath, ["epoch", "batch"]);
    if (longest <= CHECKPOINT_NAME_MAX_LENGTH) return [];
    return [
      {
        path: "/filepath",
        message: `can render to ${longest} characters (epoch and batch up to ${TEMPLATE_ASSUMPTIONS.intDigits} digits, fixed-point values up to ${TEMPLATE_ASSUMPTIONS.fixedPointDigits} integer digits, every field at its widest); a checkpoint name has at most ${CHECKPOINT_NAME_MAX_LENGTH}: shorten the text, the widths or the precisions`,
      },
    ];
  } catch (error) {
    return [{ path: "/filepath", message: (error as Error).message }];
  }
}

const checkCheckpoint = (options: Record<string, unknown>) => [
  ...checkTemplate(options),
  ...checkMonitor(options),
];

/**
 * A Webhook's URL in itself (the service's allowlist is checked by libs/spec, which has the settings),
 * its hooks — Keras's names, refusing with the reason those that tfjs's fit never calls — and
 * every_n_batches only where a batch hook uses it.
 */
function checkWebhook(options: Record<string, unknown>): Issue[] {
  const issues = typeof options.url === "string" ? issuesUnder("/url", webhookUrlIssues(options.url)) : [];
  const hooks = Array.isArray(options.hooks) ? (options.hooks as unknown[]) : [];
  hooks.forEach((hook, index) => {
    if (typeof hook !== "string" || (WEBHOOK_HOOKS as readonly string[]).includes(hook)) return;
    const fired = `the hooks that fire are ${WEBHOOK_HOOKS.join(", ")}`;
    // Keras keeps on_batch_begin/end as backwards-compatible aliases of the on_train_batch_ hooks.
    const message = Object.hasOwn(WEBHOOK_UNFIRED_HOOKS, hook)
      ? `${WEBHOOK_UNFIRED_HOOKS[hook]}; ${fired}`
      : /^on_batch_(begin|end)$/.test(hook)
        ? `${hook} is Keras's older name for ${hook.replace("on_batch", "on_train_batch")}: use that`
        : `unknown hook '${hook}'; ${fired}`;
    issues.push({ path: `/hooks/${index}`, message });
  });
  const batchHook = hooks.some((hook) => WEBHOOK_BATCH_HOOKS.includes(hook as never));
  if (options.every_n_batches !== 1 && !batchHook) {
    issues.push({
      path: "/every_n_batches",
      message: `applies to ${WEBHOOK_BATCH_HOOKS.join(" and ")} only, and hooks lists neither`,
    });
  }
  return issues;
}

/** What each callback's schema cannot express; `options` already has its defaults applied. */
const CHECKS: Record<CallbackType, Check | null> = {
  ReduceLROnPlateau: checkMonitor,
  EarlyStopping: checkMonitor,
  TerminateOnNaN: null,
  ModelCheckpoint: checkCheckpoint,
  CSVLogger: null,
  LearningRateScheduler: (options) =>
    issuesUnder("/schedule", scheduleOptionIssues(options.schedule, optionIssues)),
  Rule: (options) =>
    ruleOptionIssues(options as RuleConfig, (o) => checkOptions("ModelCheckpoint", o).issues),
  Webhook: checkWebhook,
};

// One compiled validator per callback type; the issue walker runs only to explain a failure.
const COMPILED = Object.fromEntries(
  Object.entries(CALLBACK_OPTIONS).map(([type, schema]) => [type, Compile(schema as TSchema)]),
) as unknown as Record<CallbackType, { Check(value: unknown): boolean }>;

/** Checks one callback's options; returns them with Keras's defaults filled in, plus any issues. */
export function checkOptions(
  type: string,
  options: unknown,
): { options: Record<string, unknown>; issues: Issue[] } {
  if (!isCallbackType(type)) {
    const known = Object.keys(CALLBACK_OPTIONS).join(", ");
    return {
      options: {},
      issues: [{ path: "/type", message: `unknown callback type '${type}'; known: ${known}` }],
    };
  }
  const schema = CALLBACK_OPTIONS[type] as TSchema;
  const issues = COMPILED[type].Check(options) ? [] : optionIssues(schema, options);
  const filled = withCallbackDefaults(type, options) as Record<string, unknown>;
  const reported = new Set(issues.map((issue) => issue.path));
  for (const issue of CHECKS[type]?.(filled) ?? []) if (!reported.has(issue.path)) issues.push(issue);
  return { options: filled, issues };
}

/**
 * For constructors: Keras's callbacks raise on options they cannot honour (a factor ≥ 1, a monitor whose
 * direction is unknown), and so do these — with every bad option named — whoever builds them.
 */
export function optionsOrThrow<T extends CallbackType>(type: T, options: unknown): CallbackConfig<T> {
  const { options: filled, issues } = checkOptions(type, options ?? {});
  if (issues.length > 0) {
    const lines = issues.map((issue) => `${issue.path.slice(1) || "options"}: ${issue.message}`);
    throw new CallbackSpecError(`${type}: invalid options: ${lines.join("; ")}`);
  }
  return filled as CallbackConfig<T>;
}

/** Every problem in a list of callback specs, each with its JSON path; builds nothing. */
export function validateCallbackSpecs(specs: unknown): Issue[] {
  if (!Array.isArray(specs)) return [{ path: "", message: "must be an array of callback specs" }];
  return specs.flatMap((spec, index): Issue[] => {
    const at = (issue: Issue) => ({ path: `/${index}${issue.path}`, message: issue.message });
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
      return [{ path: `/${index}`, message: 'must be an object like {"type": "EarlyStopping", ...}' }];
    }
    const { type, ...options } = spec as Record<string, unknown>;
    if (typeof type !== "string")
      return [{ path: `/${index}/type`, message: "must be a callback type name" }];
    return checkOptions(type, options).issues.map(at);
  });
}

export {
  type WebhookPolicy,
  type WebhookSettings,
  webhookPolicy,
  webhookTargetIssues,
} from "./webhook-target";

const optionIssues = (schema: TSchema, value: unknown) => schemaIssues(schema, value, { field: "option" });
