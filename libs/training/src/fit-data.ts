/**
 * What Keras would raise at `fit` about the model against the data, found at submission where the spec
 * alone says what the data holds (builtin and inline sources; a file's declared `features` list): the
 * model's input width against the data's features, sparse_categorical_crossentropy labels against the
 * output layer's units, binary_crossentropy labels outside [0, 1], and class_weight keys against the
 * classes present. The model is read, never built: a Sequential `layers` list's first input shape and last
 * Dense units. What cannot be read cheaply (Keras JSON, other layers, file contents) is left to the worker.
 * No tfjs and no I/O here.
 */
import type { CompileSpec, DataSource, DataSpec, FitSpec, Issue, ModelSpec } from "@plateau/contract";
import { pointerToken } from "@plateau/contract";
import { inputsOf, sourceSize } from "./data-size";
import { formatOf } from "./file-source";
import { kerasJsonTopology } from "./keras-json";
import { firstShape } from "./samples";

/** Layers that keep their input's last dimension, so a Dense before them still gives the output's units. */
const SAME_WIDTH = new Set([
  "Activation",
  "Dropout",
  "AlphaDropout",
  "GaussianDropout",
  "GaussianNoise",
  "Softmax",
  "ReLU",
  "LeakyReLU",
  "ELU",
  "PReLU",
  "ThresholdedReLU",
  "BatchNormalization",
  "LayerNormalization",
]);

/** Keys that give one sample's shape, and whether the first entry is the batch dimension. */
const SHAPE_KEYS: [key: string, batched: boolean][] = [
  ["input_shape", false],
  ["shape", false],
  ["batch_input_shape", true],
  ["batch_shape", true],
];

/** One model input: its name (a Functional model's), one sample's shape (null: any), and where it is said. */
interface ModelInput {
  name: string;
  shape: (number | null)[];
  path: string;
}

interface ModelEnds {
  /** The model's inputs, in order. */
  inputs?: ModelInput[];
  /** The output layer's units, and their path. */
  units?: { units: number; path: string };
}

function sampleShape(value: unknown, batched: boolean): (number | null)[] | null {
  if (!Array.isArray(value)) return null;
  const shape = batched ? value.slice(1) : value;
  return shape.every((size) => size === null || Number.isInteger(size)) ? shape : null;
}

/** The units of the Dense that gives a layer list's output, looking back through shape-keeping layers. */
function denseUnits(layers: { class_name?: unknown; config?: unknown }[], at: (i: number) => string) {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    const config = (layer.config ?? {}) as Record<string, unknown>;
    if (layer.class_name === "Dense") {
      return Number.isInteger(config.units) ? { units: config.units as number, path: at(i) } : undefined;
    }
    if (!SAME_WIDTH.has(String(layer.class_name))) return undefined;
  }
  return undefined;
}

/**
 * The model's input shapes and its output Dense's units where the spec says them plainly: a `layers`
 * list's first layer, or Keras JSON's input layers (read, not built) and its output Dense.
 */
export function modelEnds(model: ModelSpec, path = "/model"): ModelEnds {
  if ("keras_json" in model) return kerasJsonEnds(model.keras_json, `${path}/keras_json`);
  const ends: ModelEnds = {};
  const first = model.layers[0]?.config ?? {};
  for (const [key, batched] of SHAPE_KEYS) {
    if (!(key in first)) continue;
    const shape = sampleShape(first[key], batched);
    if (shape) ends.inputs = [{ name: "", shape, path: `${path}/layers/0/config/${key}` }];
    break;
  }
  if (!ends.inputs && model.layers[0]?.class_name === "Dense" && Number.isInteger(first.input_dim)) {
    ends.inputs = [
      { name: "", shape: [first.input_dim as number], path: `${path}/layers/0/config/input_dim` },
    ];
  }
  const units = denseUnits(model.layers, (i) => `${path}/layers/${i}/config/units`);
  if (units) ends.units = units;
  return ends;
}

function kerasJsonEnds(json: unknown, path: string): ModelEnds {
  const issues: Issue[] = [];
  const topology = kerasJsonTopology(json, path, issues);
  if (topology === null || issues.length > 0) return {};
  const config = topology.config as {
    layers: { class_name: string; name?: string; config: Record<string, unknown>; inbound_nodes?: unknown }[];
    input_layers?: [string, number, number][];
    output_layers?: [string, number, number][];
  };
  const ends: ModelEnds = {};
  const unitsAt = `${path} (output layer units)`;
  if (topology.class_name === "Sequential") {
    const shape = sampleShape(config.layers[0]?.config.batch_input_shape, true);
    if (shape) ends.inputs = [{ name: "", shape, path: `${path} (input shape)` }];
    const units = denseUnits(config.layers, () => unitsAt);
    if (units) ends.units = units;
    return ends;
  }
  const byName = new Map(config.layers.map((layer) => [layer.config.name as string, layer]));
  const inputs = (config.input_layers ?? []).map(([name]) => ({
    name,
    shape: sampleShape(byName.get(name)?.config.batch_input_shape, true),
    path: `${path} (input "${name}")`,
  }));
  if (inputs.every((input) => input.shape !== null)) ends.inputs = inputs as ModelInput[];
  // A single output: its Dense, through shape-keeping layers, each with one inbound layer.
  const outputs = config.output_layers ?? [];
  let layer = outputs.length === 1 ? byName.get(outputs[0][0]) : undefined;
  for (let hops = 0; layer && hops < config.layers.length; hops++) {
    if (layer.class_name === "Dense") {
      if (Number.isInteger(layer.config.units))
        ends.units = { units: layer.config.units as number, path: unitsAt };
      break;
    }
    if (!SAME_WIDTH.has(layer.class_name)) break;
    const inbound = (layer.inbound_nodes as [string, number, number, unknown][][] | undefined)?.[0];
    layer = inbound?.length === 1 ? byName.get(inbound[0][0]) : undefined;
  }
  return ends;
}

/** The loss by its Keras function name, whether given as a name or as a serialized loss object. */
export function lossName(loss: CompileSpec["loss"]): string {
  if (typeof loss === "string") return loss;
  const name = (loss as { class_name?: unknown }).class_name;
  if (name === "SparseCategoricalCrossentropy") return "sparse_categorical_crossentropy";
  if (name === "BinaryCrossentropy") return "binary_crossentropy";
  if (name === "CategoricalCrossentropy") return "categorical_crossentropy";
  return String(name);
}

/** What the spec says a source's labels are: each row's (inline), or the class indices of a builtin. */
type Labels = { rows: unknown[] } | { classes: number[]; name: string } | null;

function labelsOf(source: DataSource): Labels {
  if (source.source === "inline") return { rows: source.y };
  if (source.source === "builtin" && source.name === "iris") return { classes: [0, 1, 2], name: "iris" };
  if (source.source === "builtin" && source.name !== "regression")
    return { classes: [0, 1], name: source.name };
  return null;
}

/** One sample's shape per input ("" for a single one) when the spec fixes it: builtin, inline, a file's `features`. */
function sampleShapesOf(source: DataSource): Map<string, number[]> | null {
  if (source.source === "inline") {
    return new Map(inputsOf(source.x).map(([name, list]) => [name, firstShape(list).slice(1)]));
  }
  const size = sourceSize(source);
  if (size !== null) return new Map([["", [size.features]]]);
  // One JSONL column may hold a list (a sequence, an image): its width is known once read.
  const file = source.source === "uri" || source.source === "dataset" ? source : null;
  if (file?.features && (file.features.length > 1 || formatOf(file) === "csv"))
    return new Map([["", [file.features.length]]]);
  return null;
}

function describeSource(source: DataSource): string {
  if (source.source === "builtin") return `the builtin ${source.name} data`;
  if (source.source === "inline") return "the inline data";
  return "the data's features list";
}

const shown = (shape: readonly (number | null)[]) => JSON.stringify(shape);

function fits(model: readonly (number | null)[], data: readonly number[]): boolean {
  return model.length === data.length && model.every((size, i) => size === null || size === data[i]);
}

/**
 * The data's inputs against the model's: names (a dict of inputs, Keras's form for a Functional model)
 * and each sample's shape. `training`: the training data, whose mismatch is said at the model's input.
 */
function inputIssues(
  inputs: ModelInput[],
  data: Map<string, number[]>,
  source: DataSource,
  path: string,
  training: boolean,
): Issue[] {
  const what = describeSource(source);
  if (data.has("") && inputs.length > 1) {
    return [
      {
        path: `${path}/x`,
        message: `the model has ${inputs.length} inputs (${inputs.map((input) => input.name).join(", ")}): give x as an object of samples by input name`,
      },
    ];
  }
  const issues: Issue[] = [];
  if (!data.has("")) {
    const names = new Set(inputs.map((input) => input.name));
    for (const name of data.keys()) {
      if (!names.has(name) || (inputs.length === 1 && inputs[0].name === "")) {
        const known = inputs.map((input) => input.name).filter(Boolean);
        issues.push({
          path: `${path}/x/${pointerToken(name)}`,
          message:
            known.length > 0
              ? `is not an input of the model; its inputs are ${known.join(", ")}`
              : "names an input, but the model has one unnamed input: give x as a list of samples",
        });
      }
    }
    for (const input of inputs) {
      if (input.name !== "" && !data.has(input.name)) {
        issues.push({ path: `${path}/x`, message: `has no samples for the model's input "${input.name}"` });
      }
    }
  }
  for (const input of inputs) {
    const shape = data.get(data.has("") ? "" : input.name);
    if (!shape || fits(input.shape, shape)) continue;
    const per =
      shape.length === 1
        ? `${shape[0]} feature${shape[0] === 1 ? "" : "s"} per sample`
        : `samples of shape ${shown(shape)}`;
    const dataSays = `${what}${input.name && !data.has("") ? ` for "${input.name}"` : ""} has ${per}`;
    issues.push(
      training
        ? {
            path: input.path,
            message: `is ${shown(input.shape)}, but ${dataSays}: the model's input must take ${shown(shape)}`,
          }
        : {
            path,
            message: `${dataSays}; the model's input (${input.path.slice(1)}) is ${shown(input.shape)}`,
          },
    );
  }
  return issues;
}

/** Every Keras fit error the spec shows, each at the field to change. `path` is the data spec's. */
export function fitDataIssues(
  spec: { model: ModelSpec; compile: CompileSpec; data: DataSpec; fit: FitSpec },
  paths: { data?: string; validation?: string } = {},
): Issue[] {
  const dataPath = paths.data ?? "/data";
  const sources = [
    { path: dataPath, source: spec.data as DataSource, training: true },
    ...(spec.data.validation
      ? [
          {
            path: paths.validation ?? `${dataPath}/validation`,
            source: spec.data.validation,
            training: false,
          },
        ]
      : []),
  ];
  const ends = modelEnds(spec.model);
  const loss = lossName(spec.compile.loss);
  const issues: Issue[] = [];
  let inputReported = false;
  for (const { path, source, training } of sources) {
    const shapes = sampleShapesOf(source);
    if (ends.inputs && shapes !== null && (training || !inputReported)) {
      const found = inputIssues(ends.inputs, shapes, source, path, training);
      if (training && found.length > 0) inputReported = true;
      issues.push(...found);
    }
    const labels = labelsOf(source);
    if (labels === null) continue;
    if (loss === "sparse_categorical_crossentropy" && ends.units) {
      issues.push(...sparseLabelIssues(labels, ends.units, path));
    }
    if (loss === "binary_crossentropy") issues.push(...binaryLabelIssues(labels, path));
    if (training && spec.fit.class_weight) issues.push(...classWeightIssues(labels, spec.fit.class_weight));
  }
  // The same builtin for training and validation says the same thing about the model once.
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\n${issue.message}`;
    return !seen.has(key) && seen.add(key);
  });
}

function sparseLabelIssues(
  labels: NonNullable<Labels>,
  units: { units: number; path: string },
  path: string,
) {
  const range = `[0, ${units.units})`;
  const why = `sparse_categorical_crossentropy takes class indices below the output layer's units (${units.path.slice(1)} = ${units.units})`;
  if ("classes" in labels) {
    const top = Math.max(...labels.classes);
    return top < units.units
      ? []
      : [
          {
            path: units.path,
            message: `must be at least ${top + 1}: the builtin ${labels.name} data has class indices 0..${top}, and ${why}`,
          },
        ];
  }
  const bad = labels.rows.flatMap((row, i) => {
    const value = Array.isArray(row) ? (row.length === 1 ? row[0] : undefined) : row;
    return value !== undefined && (value < 0 || value >= units.units) ? [{ i, value }] : [];
  });
  return firstOf(bad, ({ i, value }) => ({
    path: `${path}/y/${i}`,
    message: `label ${value} is outside ${range}: ${why}`,
  }));
}

function binaryLabelIssues(labels: NonNullable<Labels>, path: string): Issue[] {
  const why = "binary_crossentropy takes labels between 0 and 1";
  if ("classes" in labels) {
    const top = Math.max(...labels.classes);
    return top <= 1
      ? []
      : [
          {
            path: "/compile/loss",
            message: `${why}; the builtin ${labels.name} data has class indices 0..${top}: use sparse_categorical_crossentropy`,
          },
        ];
  }
  const bad = labels.rows.flatMap((row, i) => {
    const values = Array.isArray(row) ? row : [row];
    const j = values.findIndex((value) => value < 0 || value > 1);
    return j < 0 ? [] : [{ at: Array.isArray(row) ? `${i}/${j}` : `${i}`, value: values[j] }];
  });
  return firstOf(bad, ({ at, value }) => ({
    path: `${path}/y/${at}`,
    message: `label ${value} is outside [0, 1]: ${why}`,
  }));
}

/** Keras looks every label up in class_weight: its keys must be classes the training data has. */
function classWeightIssues(labels: NonNullable<Labels>, classWeight: Record<string, number>): Issue[] {
  let classes: number[];
  if ("classes" in labels) classes = labels.classes;
  else {
    const first = labels.rows[0];
    if (Array.isArray(first)) {
      // One-hot (or multi-label) rows: Keras takes the class as the row's argmax, so classes are the columns.
      if (first.length < 2) return [];
      classes = first.map((_, j) => j);
    } else {
      const values = labels.rows as number[];
      if (!values.every((value) => Number.isInteger(value))) return [];
      classes = [...new Set(values)].sort((a, b) => a - b);
    }
  }
  const present = new Set(classes);
  // Bounded whatever the data: regression-like integer targets can have thousands of distinct values.
  const listed =
    classes.length > 20
      ? `${classes.slice(0, 20).join(", ")}, … (${classes.length} in all)`
      : classes.join(", ");
  return Object.keys(classWeight)
    .filter((key) => !present.has(Number(key)))
    .slice(0, 20)
    .map((key) => ({
      path: `/fit/class_weight/${key}`,
      message: `class ${key} does not occur in the training data; its classes are ${listed}`,
    }));
}

/** The first few of many rows with the same problem, then how many more. */
function firstOf<T>(bad: T[], issue: (item: T) => Issue, shown = 3): Issue[] {
  const issues = bad.slice(0, shown).map(issue);
  if (bad.length > shown) {
    const { path } = issues[0];
    issues.push({
      path: path.replace(/\/y\/.*$/, "/y"),
      message: `${bad.length - shown} more labels have the same problem`,
    });
  }
  return issues;
}
