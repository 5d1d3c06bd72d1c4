import { randomInt } from "node:crypto";
import {
  validateCallbackSpecs,
  type WebhookSettings,
  webhookPolicy,
  webhookTargetIssues,
} from "@plateau/callbacks/validate";
import type { Config } from "@plateau/config";
import {
  type CallbackSpec,
  FitSpecSchema,
  type Issue,
  issuesUnder,
  type JobSpec,
  JobSpecSchema,
  MAX_SEED,
  type ModelSpec,
  type ResumeSpec,
  ResumeSpecSchema,
  withCallbackDefaults,
} from "@plateau/contract";
import {
  checkCompile,
  checkFit,
  checkModel,
  dataSizeIssues,
  dataSourceIssues,
  fitDataIssues,
  hasValidation,
  logKeys,
  SpecError,
  scheduleConflicts,
} from "@plateau/training/checks";
import { schemaIssues } from "@plateau/validation";
import type { TSchema } from "typebox";
import { Compile } from "typebox/compile";
import Value from "typebox/value";
import { dataUriKey, dataUriPrefixes } from "./data-uri";

/** The service's settings a spec is checked against; without the WEBHOOK_ ones, no webhook is allowed. */
export type Limits = Pick<
  Config,
  "MAX_EPOCHS" | "MAX_PARAMS" | "MAX_DATA_CELLS" | "S3_BUCKET" | "DATA_URI_PREFIXES"
> &
  WebhookSettings;

export type Validation = { ok: true; spec: JobSpec; params: number } | { ok: false; issues: Issue[] };

/** Callback options that name a log key; checked against what this job's fit will actually log. */
const MONITORED = new Set(["ReduceLROnPlateau", "EarlyStopping", "ModelCheckpoint"]);

/**
 * Builds the model once to count its parameters and catch shape errors (throws SpecError). Injected, so
 * that only the caller decides where tfjs runs; the API passes its model-check entry.
 */
export type CountParams = (model: ModelSpec) => Promise<number>;

// One compiled validator for the whole spec; the issue walker runs only to explain a failure.
const jobSpecValidator = Compile(JobSpecSchema);

/**
 * Every problem with a submitted job spec, each with its JSON path — schema, callbacks, model, compile,
 * fit, monitors that the job would never log, and the service's limits — or the effective spec the
 * worker will run (callback defaults filled in, TerminateOnNaN added).
 */
export async function validateJobSpec(
  body: unknown,
  limits: Limits,
  countParams: CountParams,
  tenantId: string,
): Promise<Validation> {
  const issues = structuralIssues(body);
  if (issues.length > 0) return { ok: false, issues };
  // Keras's fit.validation_data is data.validation under another name: checked and run as that, and each
  // problem named at the field the user wrote.
  const spec = withValidationData(body as JobSpec);
  const at = validationPaths(body as JobSpec);

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
  issues.push(...webhookIssues(callbacks, limits));
  issues.push(...at(dataUriIssues(spec.data, limits, tenantId)));
  if (spec.fit.epochs > limits.MAX_EPOCHS) {
    issues.push({
      path: "/fit/epochs",
      message: `must be <= ${limits.MAX_EPOCHS} (this service's MAX_EPOCHS)`,
    });
  }
  const sizeIssues = at(dataSizeIssues(spec.data, limits.MAX_DATA_CELLS));
  // The model against the data (what Keras raises at fit) once the data is one the service would take.
  issues.push(...(sizeIssues.length > 0 ? sizeIssues : at(fitDataIssues(spec))));
  if (issues.length > 0) return { ok: false, issues };

  const params = await measureModel(countParams, spec.model);
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
  const issues = withCallbackIssues(JobSpecSchema, body, jobSpecValidator.Check(body));
  if (typeof body !== "object" || body === null) return issues;
  const spec = body as Partial<JobSpec>;
  // The deeper checks of @plateau/training only make sense once the part has the right shape.
  const clean = (prefix: string) => !issues.some((i) => i.path.startsWith(prefix));
  if (spec.model !== undefined && clean("/model")) issues.push(...checkModel(spec.model));
  if (spec.compile !== undefined && clean("/compile")) issues.push(...checkCompile(spec.compile));
  if (clean("/compile") && clean("/callbacks")) issues.push(...scheduleConflicts(spec));
  if (spec.data !== undefined && clean("/data")) {
    issues.push(...dataSourceIssues(spec.data, "/data"));
    if (spec.data.validation) issues.push(...dataSourceIssues(spec.data.validation, "/data/validation"));
  }
  if (spec.fit?.validation_data && clean("/fit")) {
    issues.push(...dataSourceIssues(spec.fit.validation_data, "/fit/validation_data"));
  }
  if (spec.fit !== undefined && spec.data !== undefined && clean("/fit") && clean("/data")) {
    issues.push(...checkFit(spec.fit, spec.data.validation !== undefined));
  }
  return dedupe(issues);
}

/** The spec with fit.validation_data moved to data.validation, where the worker reads validation data. */
function withValidationData(spec: JobSpec): JobSpec {
  const { validation_data, ...fit } = spec.fit;
  if (validation_data === undefined) return spec;
  return { ...spec, data: { ...spec.data, validation: validation_data }, fit };
}

/** Renames /data/validation paths back to /fit/validation_data for a spec that gave it there. */
function validationPaths(spec: JobSpec): (issues: Issue[]) => Issue[] {
  if (spec.fit.validation_data === undefined) return (issues) => issues;
  return (issues) =>
    issues.map((issue) =>
      issue.path === "/data/validation" || issue.path.startsWith("/data/validation/")
        ? { ...issue, path: `/fit/validation_data${issue.path.slice("/data/validation".length)}` }
        : issue,
    );
}

function dataUriIssues(data: JobSpec["data"], limits: Limits, tenantId: string): Issue[] {
  const rules = { bucket: limits.S3_BUCKET, prefixes: dataUriPrefixes(limits.DATA_URI_PREFIXES, tenantId) };
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

/** Webhook URLs against this service's allowlist (their syntax was checked with the callbacks). */
function webhookIssues(callbacks: CallbackSpec[], limits: Limits): Issue[] {
  return callbacks.flatMap((callback, index) =>
    callback.type === "Webhook"
      ? issuesUnder(`/callbacks/${index}/url`, webhookTargetIssues(callback.url, webhookPolicy(limits)))
      : [],
  );
}

/**
 * Problems of a request body that holds `callbacks`: the schema's, except under /callbacks, where
 * validateCallbackSpecs speaks (it names unknown types and checks what schemas cannot). `valid` is a
 * compiled validator's verdict on the whole body, which spares the issue walker on the common path.
 */
export function withCallbackIssues(schema: TSchema, body: unknown, valid = false): Issue[] {
  const issues = valid
    ? []
    : schemaIssues(schema, body).filter((issue) => !issue.path.startsWith("/callbacks/"));
  const callbacks = (body as { callbacks?: unknown } | null)?.callbacks;
  if (Array.isArray(callbacks)) issues.push(...issuesUnder("/callbacks", validateCallbackSpecs(callbacks)));
  return issues;
}

function isLogged(monitor: string, logs: string[]): boolean {
  // tfjs logs `acc` where Keras logs `accuracy`; the callbacks accept either spelling.
  const alias = monitor.replace(/(^|_)accuracy$/, "$1acc").replace(/(^|_)acc$/, "$1acc");
  return logs.includes(monitor) || logs.includes(alias);
}

async function measureModel(
  countParams: CountParams,
  spec: ModelSpec,
): Promise<{ count: number } | { issues: Issue[] }> {
  try {
    return { count: await countParams(spec) };
  } catch (error) {
    if (error instanceof SpecError) return { issues: error.issues };
    return { issues: [{ path: "/model", message: (error as Error).message }] };
  }
}

/**
 * What the worker runs and the job shows: defaults made explicit, TerminateOnNaN always present, and
 * fit.validation_data as data.validation (fit.verbose stays as given; training ignores it).
 */
function effectiveSpec(spec: JobSpec): JobSpec {
  const callbacks = (spec.callbacks ?? []).map(
    ({ type, ...options }) => ({ type, ...withCallbackDefaults(type, options) }) as CallbackSpec,
  );
  if (!callbacks.some((callback) => callback.type === "TerminateOnNaN")) {
    callbacks.push({ type: "TerminateOnNaN", ...withCallbackDefaults("TerminateOnNaN", {}) });
  }
  return {
    ...spec,
    // Every attempt of the job draws from the same seed, so a chosen one is part of the job from the start.
    seed: spec.seed ?? randomInt(MAX_SEED + 1),
    fit: Value.Default(FitSpecSchema, structuredClone(spec.fit)) as JobSpec["fit"],
    resume: Value.Default(ResumeSpecSchema, structuredClone(spec.resume ?? {})) as ResumeSpec,
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
