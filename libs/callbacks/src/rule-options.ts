// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; its value is never a function, so these objects are not thenables.
/** The `Rule` callback's checks. No tfjs here, so the API validates rules without loading TensorFlow. */
import {
  ACTION_DESCRIPTION,
  type Issue,
  MAX_LOG_MESSAGE_LENGTH,
  RULE_HOOKS,
  type RuleConfig,
  type RuleHook,
  RuleOptions,
} from "@plateau/contract";
import Value from "typebox/value";
import type { Expression } from "./expression";
import { compileSource } from "./python-function";

const NEVER_CALLED = /^(test|predict)_(begin|end|batch_begin|batch_end)$/;

/** Hooks whose scope has the logs' metrics; the others see only the fixed variables. */
const HOOKS_WITH_METRICS: readonly RuleHook[] = ["epoch_end", "train_batch_end", "train_end"];
const BATCH_HOOKS: readonly RuleHook[] = ["train_batch_begin", "train_batch_end"];

/** Variables every rule sees; `fired` counts this rule's earlier firings, `batch` exists in batch hooks. */
function fixedVariables(hook: RuleHook): string[] {
  return [
    ...(hook === "train_begin" ? [] : ["epoch"]),
    ...(BATCH_HOOKS.includes(hook) ? ["batch"] : []),
    "lr",
    "fired",
  ];
}

export type RuleAction =
  | { kind: "stop_training" }
  | { kind: "checkpoint" }
  | { kind: "log"; message: string | null }
  | { kind: "set_learning_rate"; expression: Expression };

export interface ParsedRule {
  hook: RuleHook;
  condition: Expression | null;
  actions: RuleAction[];
}

/** Parses and checks the options; problems come back with paths relative to the options object. */
export function parseRule(options: RuleConfig): { rule: ParsedRule | null; issues: Issue[] } {
  const issues: Issue[] = [];
  const on = options.on ?? "epoch_end";
  if (!(RULE_HOOKS as readonly string[]).includes(on)) {
    const why = NEVER_CALLED.test(on)
      ? `'${on}' is a Keras hook that tfjs never calls (its evaluate/predict take no callbacks)`
      : `unknown hook '${on}'`;
    return { rule: null, issues: [{ path: "/on", message: `${why}; use one of: ${RULE_HOOKS.join(", ")}` }] };
  }
  const hook = on as RuleHook;
  // Hooks without logs can be checked fully now; with logs, metric names are only known during training.
  const variables = HOOKS_WITH_METRICS.includes(hook) ? undefined : fixedVariables(hook);
  const compile = (source: string, path: string): Expression | null => {
    try {
      const expression = compileSource(source, { variables, subject: "a Rule expression" });
      const misplaced = expression.variables.find(
        (name) => ["batch", "epoch"].includes(name) && !fixedVariables(hook).includes(name),
      );
      if (misplaced)
        throw new Error(
          `'${misplaced}' is not defined in '${hook}'; defined: ${fixedVariables(hook).join(", ")}`,
        );
      return expression;
    } catch (error) {
      issues.push({ path, message: (error as Error).message });
      return null;
    }
  };
  const condition = options.if === undefined ? null : compile(options.if, "/if");
  const list = Array.isArray(options.then) ? options.then : [options.then];
  const actions: RuleAction[] = [];
  if (list.length === 0)
    issues.push({ path: "/then", message: `needs at least one action: ${ACTION_DESCRIPTION}` });
  list.forEach((raw, i) => {
    const path = Array.isArray(options.then) ? `/then/${i}` : "/then";
    const action = parseAction(raw, path, compile);
    if (typeof action === "string") issues.push({ path, message: action });
    else if (action) actions.push(action);
  });
  // tfjs clears stopTraining after train_begin, and after train_end there is nothing left to stop.
  if ((hook === "train_begin" || hook === "train_end") && actions.some((a) => a.kind === "stop_training")) {
    issues.push({ path: "/then", message: `stop_training has no effect in '${hook}'` });
  }
  return { rule: issues.length === 0 ? { hook, condition, actions } : null, issues };
}

/** An action, an error message, or null when its expression already reported an issue. */
function parseAction(
  raw: unknown,
  path: string,
  compile: (source: string, path: string) => Expression | null,
): RuleAction | string | null {
  if (raw === "stop_training" || raw === "checkpoint") return { kind: raw };
  if (raw === "log") return { kind: "log", message: null };
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const entries = Object.entries(raw);
    if (entries.length === 1) {
      const [key, value] = entries[0];
      if (key === "log" && typeof value === "string") {
        if (value.length > MAX_LOG_MESSAGE_LENGTH) {
          return `the log message has ${value.length} characters; at most ${MAX_LOG_MESSAGE_LENGTH} are allowed`;
        }
        return { kind: "log", message: value };
      }
      if (key === "set_learning_rate" && typeof value === "string") {
        const expression = compile(value, `${path}/set_learning_rate`);
        return expression && { kind: "set_learning_rate", expression };
      }
    }
  }
  const quoted = JSON.stringify(raw) ?? String(raw);
  const shown = quoted.length > 100 ? `${quoted.slice(0, 100)}…` : quoted;
  return `unknown action ${shown}; actions are ${ACTION_DESCRIPTION}`;
}

/**
 * All problems with a Rule's options. `checkCheckpointOptions` is the registry's ModelCheckpoint check, passed
 * in so this module stays independent of the registry: a rule's checkpoints follow ModelCheckpoint's rules.
 */
export function ruleOptionIssues(
  options: RuleConfig,
  checkCheckpointOptions: (options: Record<string, unknown>) => Issue[],
): Issue[] {
  // Options of the wrong shape are already reported by the schema.
  if (!Value.Check(RuleOptions, options)) return [];
  const { rule, issues } = parseRule(options);
  if (rule?.actions.some((action) => action.kind === "checkpoint")) {
    issues.push(
      ...checkCheckpointOptions({ filepath: options.filepath }).filter((issue) => issue.path === "/filepath"),
    );
  }
  return issues;
}
