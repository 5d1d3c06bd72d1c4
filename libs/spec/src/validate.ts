import { checkOptions, validateCallbackSpecs } from "@plateau/callbacks/schemas";
import type { Config } from "@plateau/config";
import {
  checkCompile,
  checkFit,
  checkModel,
  countModelParams,
  FitSpecSchema,
  hasValidation,
  logKeys,
  type ModelSpec,
  SpecError,
  type Tf,
} from "@plateau/training";
import { type Issue, schemaIssues } from "@plateau/validation";
import Value from "typebox/value";
import { dataUriKey, dataUriPrefixes } from "./data-uri";
import { type JobSpec, JobSpecSchema } from "./job-spec";

export type Limits = Pick<Config, "MAX_EPOCHS" | "MAX_PARAMS" | "S3_BUCKET" | "DATA_URI_PREFIXES">;

export type Validation = { ok: true; spec: JobSpec; params: number } | { ok: false; issues: Issue[] };

/** Callback options that name a log key; checked against what this job's fit will actually log. */
const MONITORED = new Set(["ReduceLROnPlateau", "EarlyStopping", "ModelCheckpoint"]);

/**
 * Every problem with a submitted job spec, each with its JSON path — schema, callbacks, model, compile,
 * fit, monitors that the job would never log, and the service's limits — or the effective spec the
 * worker will run (callback defaults filled in, TerminateOnNaN added). `tf` builds the model once to
 * count its parameters and catch shape errors; tfjs is only needed here, never per request otherwise.
 */
export async function validateJobSpec(body: unknown, limits: Limits, tf: Tf): Promise<Validation> {
  const issues = structuralIssues(body);
  if (issues.length > 0) return { ok: false, issues };
  const spec = body as JobSpec;

  const callbacks = spec.callbacks ?? [];
  const logs = [...logKeys(spec.compile, hasValidation(spec.fit, spec.data.validation)), "learning_rate"];
  callbacks.forEach((callback, index) => {
    if (!MONITORED.has(callback.type)) return;
    const monitor = (callback as { monitor?: unknown }).monitor ?? "val_loss";
    if (typeof monitor === "string" && !isLogged(monitor, logs)) {
      issues.push({
        path: `/callbacks/${index}/monitor`,
        message: `"${monitor}" is not logged by this job; its logs are ${logs.join(", ")}${
          monitor.startsWith("val_") ? " (add fit.validation_split or data.validation)" : ""
        }`,
      });
    }
  });
  issues.push(...dataUriIssues(spec.data, limits));
  if (spec.fit.epochs > limits.MAX_EPOCHS) {
    issues.push({
      path: "/fit/epochs",
      message: `must be <= ${limits.MAX_EPOCHS} (this service's MAX_EPOCHS)`,
    });
  }
  if (issues.length > 0) return { ok: false, issues };

  const params = await measureModel(tf, spec.model);
  if ("issues" in params) return { ok: false, issues: params.issues };
  if (params.count > limits.MAX_PARAMS) {
    return {
      ok: false,
      issues: [
        {
          path: "/model",
          message: `has ${params.count} parameters; this service accepts at most ${limits.MAX_PARAMS} (MAX_PARAMS)`,
        },
      ],
    };
  }
  return { ok: true, spec: effectiveSpec(spec), params: params.count };
}

/** Problems visible without building anything, all at once. */
function structuralIssues(body: unknown): Issue[] {
  const issues = schemaIssues(JobSpecSchema, body).filter((issue) => !issue.path.startsWith("/callbacks/"));
  if (typeof body !== "object" || body === null) return issues;
  const spec = body as Partial<JobSpec>;
  const under = (prefix: string, found: Issue[]) => found.map((i) => ({ ...i, path: `${prefix}${i.path}` }));
  if (spec.callbacks !== undefined && Array.isArray(spec.callbacks)) {
    issues.push(...under("/callbacks", validateCallbackSpecs(spec.callbacks)));
  }
  // The deeper checks of @plateau/training only make sense once the part has the right shape.
  const clean = (prefix: string) => !issues.some((i) => i.path.startsWith(prefix));
  if (spec.model !== undefined && clean("/model")) issues.push(...checkModel(spec.model));
  if (spec.compile !== undefined && clean("/compile")) issues.push(...checkCompile(spec.compile));
  if (spec.fit !== undefined && spec.data !== undefined && clean("/fit") && clean("/data")) {
    issues.push(...checkFit(spec.fit, spec.data.validation !== undefined));
  }
  return dedupe(issues);
}

function dataUriIssues(data: JobSpec["data"], limits: Limits): Issue[] {
  const rules = { bucket: limits.S3_BUCKET, prefixes: dataUriPrefixes(limits.DATA_URI_PREFIXES) };
  const sources = [
    { path: "/data/uri", source: data },
    { path: "/data/validation/uri", source: data.validation },
  ];
  return sources.flatMap(({ path, source }) => {
    if (source?.source !== "uri") return [];
    const located = dataUriKey(source.uri, rules);
    return "message" in located ? [{ path, message: located.message }] : [];
  });
}

function isLogged(monitor: string, logs: string[]): boolean {
  // tfjs logs `acc` where Keras logs `accuracy`; the callbacks accept either spelling.
  const alias = monitor.replace(/(^|_)accuracy$/, "$1acc").replace(/(^|_)acc$/, "$1acc");
  return logs.includes(monitor) || logs.includes(alias);
}

async function measureModel(tf: Tf, spec: ModelSpec): Promise<{ count: number } | { issues: Issue[] }> {
  try {
    return { count: await countModelParams(tf, spec) };
  } catch (error) {
    if (error instanceof SpecError) return { issues: error.issues };
    return { issues: [{ path: "/model", message: (error as Error).message }] };
  }
}

/** What the worker runs and the job shows: defaults made explicit, TerminateOnNaN always present. */
function effectiveSpec(spec: JobSpec): JobSpec {
  const callbacks = (spec.callbacks ?? []).map(({ type, ...options }) => ({
    type,
    ...checkOptions(type, options).options,
  }));
  if (!callbacks.some((callback) => callback.type === "TerminateOnNaN")) {
    callbacks.push({ type: "TerminateOnNaN", ...checkOptions("TerminateOnNaN", {}).options });
  }
  return {
    ...spec,
    fit: Value.Default(FitSpecSchema, structuredClone(spec.fit)) as JobSpec["fit"],
    callbacks,
  };
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\n${issue.message}`;
    return !seen.has(key) && seen.add(key);
  });
}
