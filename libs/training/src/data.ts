import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { DataSource, DataSpec } from "@plateau/contract";
import type { Tensor } from "@tensorflow/tfjs";
import type { Tf } from "./backend";
import {
  type CellBudget,
  cellsOf,
  describeCells,
  inlineIssues,
  overLimit,
  SYNTHETIC_DEFAULTS,
  sourceSize,
} from "./data-size";
import { SpecError, throwIfIssues } from "./spec-error";
import { prng, SYNTHETIC, type Table } from "./synthetic";
import { readTable, type TableFormat } from "./tabular";

type FileSource = Extract<DataSource, { source: "uri" | "dataset" }>;
type InlineSource = Extract<DataSource, { source: "inline" }>;

export interface Dataset {
  x: Tensor;
  y: Tensor;
  features: string[];
  classes?: string[];
}

/** File contents the caller fetched for `uri`/`dataset` sources: the training file and the validation one. */
export interface DataFiles {
  data?: string;
  validation?: string;
}

export { SYNTHETIC_DEFAULTS };
export const IRIS_CLASSES = ["setosa", "versicolor", "virginica"];
// Resolved through the package, not relative to this file, so it is found from a bundle (dist/) too.
const IRIS_CSV = createRequire(import.meta.url).resolve("@plateau/training/datasets/iris.csv");

/** How error messages name a file source. */
function describe(source: FileSource): string {
  return source.source === "uri" ? source.uri : `dataset ${source.id}`;
}

/** A file source's format: as given, else from the URI's extension. */
function formatOf(source: FileSource, path: string): TableFormat {
  if (source.format) return source.format;
  const ext = describe(source)
    .toLowerCase()
    .match(/\.(csv|jsonl|ndjson)$/)?.[1];
  if (ext) return ext === "csv" ? "csv" : "jsonl";
  throw new SpecError([
    { path: `${path}/format`, message: "give format (csv or jsonl): the file name does not say" },
  ]);
}

function inlineTable(source: InlineSource, path: string): Table {
  throwIfIssues(inlineIssues(source, path));
  const width = source.x[0].length;
  return { x: source.x, y: source.y, features: Array.from({ length: width }, (_, j) => `x${j + 1}`) };
}

/**
 * Reads one source into plain arrays (no tfjs), so it can be checked and tested without a backend. With a
 * budget, a source larger than what is left is a SpecError before it is generated, or as a file is read.
 */
export function readSource(
  source: DataSource,
  file?: string,
  path = "/data",
  classes?: string[],
  budget?: CellBudget,
): Table {
  const size = sourceSize(source);
  if (size !== null && budget && cellsOf(size) > budget.maxCells - budget.used) {
    throw new SpecError([{ path, message: `has ${describeCells(size)}${overLimit(budget)}` }]);
  }
  switch (source.source) {
    case "builtin":
      if (source.name === "iris") {
        const table = readTable(readFileSync(IRIS_CSV, "utf8"), { format: "csv", label: "species", path });
        return shuffleRows({ ...table, classes: IRIS_CLASSES }, source.seed ?? 0);
      }
      return SYNTHETIC[source.name]({ ...SYNTHETIC_DEFAULTS, ...source });
    case "inline":
      return inlineTable(source, path);
    case "uri":
    case "dataset":
      if (file === undefined) {
        throw new SpecError([{ path, message: "the data file's contents were not provided" }]);
      }
      return readTable(file, {
        format: formatOf(source, path),
        label: source.label,
        features: source.features,
        classes,
        source: describe(source),
        path,
        budget,
      });
  }
}

export function toDataset(tf: Tf, table: Table): Dataset {
  return {
    x: tf.tensor2d(table.x, undefined, "float32"),
    y: Array.isArray(table.y[0]) ? tf.tensor2d(table.y as number[][]) : tf.tensor1d(table.y as number[]),
    features: table.features,
    classes: table.classes,
  };
}

/**
 * The training data and, when the spec names a separate `validation` source, the validation data — read
 * with the training data's classes and checked to have the same features. `maxCells` bounds both
 * together (the service's MAX_DATA_CELLS): more is a SpecError saying what to change.
 */
export function loadData(
  tf: Tf,
  spec: DataSpec,
  files: DataFiles = {},
  options: { maxCells?: number; path?: string } = {},
): { train: Dataset; validation?: Dataset } {
  const { maxCells, path = "/data" } = options;
  const train = readSource(
    spec,
    files.data,
    path,
    undefined,
    maxCells === undefined ? undefined : { maxCells, used: 0 },
  );
  if (!spec.validation) return { train: toDataset(tf, train) };
  const validation = readSource(
    spec.validation,
    files.validation,
    `${path}/validation`,
    train.classes,
    maxCells === undefined ? undefined : { maxCells, used: tableCells(train) },
  );
  if (validation.features.length !== train.features.length) {
    throw new SpecError([
      {
        path: `${path}/validation`,
        message: `validation data has ${validation.features.length} features (${validation.features.join(", ")}); training data has ${train.features.length} (${train.features.join(", ")})`,
      },
    ]);
  }
  return { train: toDataset(tf, train), validation: toDataset(tf, validation) };
}

function tableCells(table: Table): number {
  const label = table.y[0];
  return cellsOf({
    rows: table.x.length,
    features: table.features.length,
    labels: Array.isArray(label) ? label.length : 1,
  });
}

/** Fisher–Yates over the rows with a seeded PRNG: the same seed gives the same order everywhere. */
function shuffleRows(table: Table, seed: number): Table {
  const order = table.x.map((_, i) => i);
  const random = prng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const y = table.y as unknown[];
  return { ...table, x: order.map((i) => table.x[i]), y: order.map((i) => y[i]) as Table["y"] };
}
