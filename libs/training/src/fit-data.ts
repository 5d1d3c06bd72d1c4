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
import { sourceSize } from "./data-size";

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

interface ModelEnds {
  /** Features one sample must have, and the path of the config key that says so. */
  input?: { features: number; path: string; shown: string };
  /** The output layer's units, and their path. */
  units?: { units: number; path: string };
}

/** The first layer's input width and the last Dense's units, where a `layers` list says them plainly. */
export function modelEnds(model: ModelSpec, path = "/model"): ModelEnds {
  if (!("layers" in model)) return {};
  const ends: ModelEnds = {};
  const first = model.layers[0]?.config ?? {};
  for (const [key, batched] of SHAPE_KEYS) {
    const shape = first[key];
    if (!Array.isArray(shape)) continue;
    const sample = batched ? shape.slice(1) : shape;
    if (sample.length === 1 && Number.isInteger(sample[0])) {
      ends.input = {
        features: sample[0] as number,
        path: `${path}/layers/0/config/${key}`,
        shown: JSON.stringify(shape),
      };
    }
    break;
  }
  if (!ends.input && model.layers[0]?.class_name === "Dense" && Number.isInteger(first.input_dim)) {
    ends.input = {
      features: first.input_dim as number,
      path: `${path}/layers/0/config/input_dim`,
      shown: String(first.input_dim),
    };
  }
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i];
    if (layer.class_name === "Dense") {
      const units = layer.config?.units;
      if (Number.isInteger(units))
        ends.units = { units: units as number, path: `${path}/layers/${i}/config/units` };
      break;
    }
    if (!SAME_WIDTH.has(layer.class_name)) break;
  }
  return ends;
}

/** The loss by its Keras function name, whether given as a name or as a serialized loss object. */
function lossName(loss: CompileSpec["loss"]): string {
  if (typeof loss === "string") return loss;
  const name = (loss as { class_name?: unknown }).class_name;
  if (name === "SparseCategoricalCrossentropy") return "sparse_categorical_crossentropy";
  if (name === "BinaryCrossentropy") return "binary_crossentropy";
  return String(name);
}

/** What the spec says a source's labels are: each row's (inline), or the class indices of a builtin. */
type Labels = { rows: (number | number[])[] } | { classes: number[]; name: string } | null;

function labelsOf(source: DataSource): Labels {
  if (source.source === "inline") return { rows: source.y };
  if (source.source === "builtin" && source.name === "iris") return { classes: [0, 1, 2], name: "iris" };
  if (source.source === "builtin" && source.name !== "regression")
    return { classes: [0, 1], name: source.name };
  return null;
}

/** A source's features when the spec fixes them: builtin and inline sizes, a file's `features` list. */
function featuresOf(source: DataSource): number | null {
  const size = sourceSize(source);
  if (size !== null) return size.features;
  if ((source.source === "uri" || source.source === "dataset") && source.features)
    return source.features.length;
  return null;
}

function describeSource(source: DataSource): string {
  if (source.source === "builtin") return `the builtin ${source.name} data`;
  if (source.source === "inline") return "the inline data";
  return "the data's features list";
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
    const features = featuresOf(source);
    if (ends.input && features !== null && features !== ends.input.features) {
      const message = `${describeSource(source)} has ${features} feature${features === 1 ? "" : "s"} per sample`;
      if (training) {
        inputReported = true;
        issues.push({
          path: ends.input.path,
          message: `is ${ends.input.shown}, but ${message}: the model's input must take [${features}]`,
        });
      } else if (!inputReported) {
        issues.push({
          path,
          message: `${message}; the model's input (${ends.input.path.slice(1)}) is ${ends.input.shown}`,
        });
      }
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
