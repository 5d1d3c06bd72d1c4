import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type DataSource, type DataSpec, type FileFormat, pointerToken } from "@plateau/contract";
import { type NdArray, openArrays, TableError } from "@plateau/tabular";
import type { NamedTensorMap, Tensor } from "@tensorflow/tfjs";
import type { Tf } from "./backend";
import {
  type CellBudget,
  cellsOf,
  describeCells,
  inlineIssues,
  inputsOf,
  overLimit,
  SYNTHETIC_DEFAULTS,
  sourceSize,
} from "./data-size";
import { describeFile, type FileSource, fileSourceIssues, formatOf } from "./file-source";
import { flatten, shapeOf, sizeOf } from "./samples";
import { SpecError, throwIfIssues } from "./spec-error";
import { prng, SYNTHETIC, shuffleRows } from "./synthetic";
import { type FileTable, readTable } from "./tabular";

type InlineSource = Extract<DataSource, { source: "inline" }>;

export interface Dataset {
  /** One input's samples, or a Functional model's inputs by name. */
  x: Tensor | NamedTensorMap;
  y: Tensor;
  /** A table's feature columns; empty for arrays (see `describeSamples`). */
  features: string[];
  classes?: string[];
}

/**
 * File contents the caller fetched for `uri`/`dataset` sources: the training file and the validation one
 * (text for CSV/JSONL, bytes for .npy/.npz), and an .npy source's `y` file.
 */
export interface DataFiles {
  data?: string | Uint8Array;
  validation?: string | Uint8Array;
  labels?: Uint8Array;
  validationLabels?: Uint8Array;
}

/** A source's samples before they become tensors: x (per input) and y, each flat in C order with its shape. */
export interface Samples {
  x: NdArray | Record<string, NdArray>;
  y: NdArray;
  features: string[];
  classes?: string[];
}

export { SYNTHETIC_DEFAULTS };
export const IRIS_CLASSES = ["setosa", "versicolor", "virginica"];
// Resolved through the package, not relative to this file, so it is found from a bundle (dist/) too.
const IRIS_CSV = createRequire(import.meta.url).resolve("@plateau/training/datasets/iris.csv");

/** A file source's format, else a SpecError asking for it. */
function formatFor(source: FileSource, path: string): FileFormat {
  const format = formatOf(source);
  if (format) return format;
  throw new SpecError([
    { path: `${path}/format`, message: "give format (csv, jsonl, npy or npz): the file name does not say" },
  ]);
}

/**
 * Reads a builtin or CSV/JSONL source into rows (no tfjs), so it can be checked and tested without a
 * backend. With a budget, a source larger than what is left is a SpecError before it is generated, or as
 * a file is read. Inline data and .npy/.npz files are read by `readSamples`.
 */
export function readSource(
  source: DataSource,
  file?: string,
  path = "/data",
  classes?: string[],
  budget?: CellBudget,
): FileTable {
  switch (source.source) {
    case "builtin":
      withinBudget(source, path, budget);
      if (source.name === "iris") {
        const table = readTable(readFileSync(IRIS_CSV, "utf8"), { format: "csv", label: "species", path });
        return shuffleRows({ ...table, classes: IRIS_CLASSES }, prng(source.seed ?? 0));
      }
      return SYNTHETIC[source.name]({ ...SYNTHETIC_DEFAULTS, ...source });
    case "uri":
    case "dataset": {
      if (typeof file !== "string") {
        throw new SpecError([{ path, message: "the data file's contents were not provided" }]);
      }
      throwIfIssues(fileSourceIssues(source, path));
      const format = formatFor(source, path);
      if (format === "npy" || format === "npz") {
        throw new SpecError([{ path, message: `${format} files are read by readSamples` }]);
      }
      return readTable(file, {
        format,
        label: source.label ?? [],
        features: source.features,
        classes,
        source: describeFile(source),
        path,
        budget,
      });
    }
    case "inline":
      throw new SpecError([{ path, message: "inline data is read by readSamples" }]);
  }
}

function withinBudget(source: DataSource, path: string, budget?: CellBudget): void {
  const size = sourceSize(source);
  if (size !== null && budget && cellsOf(size) > budget.maxCells - budget.used) {
    throw new SpecError([{ path, message: `has ${describeCells(size)}${overLimit(budget)}` }]);
  }
}

/** Any source's samples: a table's rows as [rows, features] (or its nested sample shape), inline lists, arrays. */
export function readSamples(
  source: DataSource,
  files: { data?: string | Uint8Array; labels?: Uint8Array } = {},
  path = "/data",
  classes?: string[],
  budget?: CellBudget,
): Samples {
  if (source.source === "inline") {
    withinBudget(source, path, budget);
    return inlineSamples(source, path);
  }
  if (source.source !== "builtin") {
    throwIfIssues(fileSourceIssues(source, path));
    const format = formatFor(source, path);
    if (format === "npy" || format === "npz") return arraySamples(source, format, files, path, budget);
  }
  const file = files.data;
  return tableSamples(readSource(source, typeof file === "string" ? file : undefined, path, classes, budget));
}

function tableSamples(table: FileTable): Samples {
  const rows = table.x.length;
  const sample = table.sampleShape ?? [table.features.length];
  const label = table.y[0];
  return {
    x: { shape: [rows, ...sample], values: Float32Array.from(table.x.flat()) },
    y: {
      shape: Array.isArray(label) ? [rows, label.length] : [rows],
      values: Float32Array.from((table.y as (number | number[])[]).flat()),
    },
    features: table.features,
    classes: table.classes,
  };
}

function nested(list: unknown[]): NdArray {
  const shaped = shapeOf(list);
  if (!("shape" in shaped)) throw new Error("inline data is checked before it is read");
  return { shape: shaped.shape, values: flatten(list, shaped.shape) };
}

function inlineSamples(source: InlineSource, path: string): Samples {
  throwIfIssues(inlineIssues(source, path));
  const inputs = inputsOf(source.x);
  const x = Array.isArray(source.x)
    ? nested(source.x)
    : Object.fromEntries(inputs.map(([name, list]) => [name, nested(list)]));
  return { x, y: nested(source.y), features: [] };
}

/**
 * An .npy's x with its `y` file's labels, or an .npz's named arrays: checked (dtype, order, shape) and
 * counted against the budget from their headers before any is converted to float32.
 */
function arraySamples(
  source: FileSource,
  format: "npy" | "npz",
  files: { data?: string | Uint8Array; labels?: Uint8Array },
  path: string,
  budget?: CellBudget,
): Samples {
  const where = describeFile(source);
  const fail = (message: string, at = path): never => {
    throw new SpecError([{ path: at, message: `${message} (${where})` }]);
  };
  if (!(files.data instanceof Uint8Array)) return fail("the data file's bytes were not provided");
  // The largest dtype is 8 bytes a value; a zip's directory says how much it would inflate to. The cells
  // of the arrays used are counted from their headers below, before any is converted.
  const limits = budget ? { maxBytes: (budget.maxCells - budget.used) * 8 + 1_048_576 } : {};
  try {
    const file = openArrays(files.data, format, limits);
    let labels: ReturnType<typeof openArrays>;
    let xNames: string | Record<string, string> = "array";
    let yName = "array";
    if (format === "npy") {
      if (!files.labels) return fail("the labels file's bytes were not provided", `${path}/y`);
      labels = openArrays(files.labels, "npy", limits);
    } else {
      labels = file;
      xNames = source.arrays?.x ?? "x";
      yName = source.arrays?.y ?? "y";
    }
    const named = typeof xNames === "string" ? [["", xNames]] : Object.entries(xNames);
    const shapes = named.map(([, name]) => shapeIn(file, name, `${path}/arrays/x`));
    const yShape = shapeIn(labels, yName, format === "npy" ? `${path}/y` : `${path}/arrays/y`);
    const rows = yShape[0];
    named.forEach(([input, name], i) => {
      if (shapes[i][0] !== rows) {
        const at = input === "" ? `${path}/arrays/x` : `${path}/arrays/x/${pointerToken(input)}`;
        fail(
          `array '${name}' has ${shapes[i][0]} samples but the labels have ${rows}`,
          format === "npy" ? path : at,
        );
      }
    });
    const size = {
      rows,
      features: shapes.reduce((total, shape) => total + sizeOf(shape.slice(1)), 0),
      labels: sizeOf(yShape.slice(1)),
    };
    if (budget && cellsOf(size) > budget.maxCells - budget.used) {
      fail(`has ${describeCells(size)}${overLimit(budget)}`);
    }
    const x =
      typeof xNames === "string"
        ? file.read(xNames)
        : Object.fromEntries(named.map(([input, name]) => [input, file.read(name)]));
    return { x, y: labels.read(yName), features: [] };
  } catch (error) {
    if (error instanceof TableError) return fail(error.message);
    throw error;
  }
}

/** The shape of a named array of an opened file (its header only), or a SpecError at `path`. */
function shapeIn(file: ReturnType<typeof openArrays>, name: string, path: string): number[] {
  if (!file.names.includes(name)) {
    throw new SpecError([
      { path, message: `the .npz has no array '${name}'; it holds: ${file.names.join(", ")}` },
    ]);
  }
  return file.info().find((array) => array.name === name)!.shape;
}

function tensorOf(tf: Tf, array: NdArray): Tensor {
  return tf.tensor(array.values, array.shape, "float32");
}

export function toDataset(tf: Tf, samples: Samples): Dataset {
  const { x } = samples;
  return {
    x: isNdArray(x)
      ? tensorOf(tf, x)
      : Object.fromEntries(Object.entries(x).map(([name, array]) => [name, tensorOf(tf, array)])),
    y: tensorOf(tf, samples.y),
    features: samples.features,
    classes: samples.classes,
  };
}

function isNdArray(x: Samples["x"]): x is NdArray {
  return Array.isArray((x as NdArray).shape) && (x as NdArray).values instanceof Float32Array;
}

/** One sample's shape per input, as messages show it: "4 features (a, b, c, d)", "shape [8, 8, 1]". */
export function describeSamples(samples: Samples): string {
  const { x } = samples;
  if (isNdArray(x)) {
    if (samples.features.length > 0 && x.shape.length === 2) {
      return `${samples.features.length} features (${samples.features.join(", ")})`;
    }
    return `samples of shape ${JSON.stringify(x.shape.slice(1))}`;
  }
  return `inputs ${Object.entries(x)
    .map(([name, array]) => `${name} ${JSON.stringify(array.shape.slice(1))}`)
    .join(", ")}`;
}

/**
 * The training data and, when the spec names a separate `validation` source, the validation data — read
 * with the training data's classes and checked to have the same sample shapes. `maxCells` bounds both
 * together (the service's MAX_DATA_CELLS): more is a SpecError saying what to change.
 */
export function loadData(
  tf: Tf,
  spec: DataSpec,
  files: DataFiles = {},
  options: { maxCells?: number; path?: string } = {},
): { train: Dataset; validation?: Dataset } {
  const { maxCells, path = "/data" } = options;
  const train = readSamples(
    spec,
    { data: files.data, labels: files.labels },
    path,
    undefined,
    maxCells === undefined ? undefined : { maxCells, used: 0 },
  );
  if (!spec.validation) return { train: toDataset(tf, train) };
  const validation = readSamples(
    spec.validation,
    { data: files.validation, labels: files.validationLabels },
    `${path}/validation`,
    train.classes,
    maxCells === undefined ? undefined : { maxCells, used: cellsIn(train) },
  );
  if (describeSamples(validation) !== describeSamples(train) && !sameShapes(train, validation)) {
    throw new SpecError([
      {
        path: `${path}/validation`,
        message: `validation data has ${describeSamples(validation)}; training data has ${describeSamples(train)}`,
      },
    ]);
  }
  return { train: toDataset(tf, train), validation: toDataset(tf, validation) };
}

/** Whether two sources' samples have the same shape per input (column names may differ). */
function sameShapes(a: Samples, b: Samples): boolean {
  const shapes = (samples: Samples) =>
    JSON.stringify(
      isNdArray(samples.x)
        ? samples.x.shape.slice(1)
        : Object.entries(samples.x)
            .sort(([p], [q]) => p.localeCompare(q))
            .map(([name, array]) => [name, array.shape.slice(1)]),
    );
  return shapes(a) === shapes(b);
}

function cellsIn(samples: Samples): number {
  const arrays = isNdArray(samples.x) ? [samples.x] : Object.values(samples.x);
  return arrays.reduce((total, array) => total + array.values.length, 0) + samples.y.values.length;
}
