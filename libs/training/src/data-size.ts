/**
 * How much data a job holds, in cells: rows × (features + label columns), where a sample's features are
 * all its numbers (an 8×8×1 image has 64). The service bounds it
 * (MAX_DATA_CELLS): at submission for the sources whose size the spec fixes (builtin and inline), and in
 * the worker, as it reads them, for files. No tfjs and no I/O here, so the API checks specs with it.
 */
import { type DataSource, type DataSpec, type Issue, pointerToken } from "@plateau/contract";
import { fileSourceIssues } from "./file-source";
import { firstShape, shapeOf, sizeOf } from "./samples";

type InlineSource = Extract<DataSource, { source: "inline" }>;

export const SYNTHETIC_DEFAULTS = { samples: 200, seed: 0, noise: 0.1, features: 4 } as const;
/** Fisher's iris, as the builtin file holds it. */
const IRIS = { rows: 150, columns: 5 };

/** A source's size when the spec alone fixes it; null for files, whose size is known once read. */
export function sourceSize(source: DataSource): { rows: number; features: number; labels: number } | null {
  switch (source.source) {
    case "builtin":
      if (source.name === "iris") return { rows: IRIS.rows, features: IRIS.columns - 1, labels: 1 };
      return {
        rows: source.samples ?? SYNTHETIC_DEFAULTS.samples,
        features: source.name === "regression" ? (source.features ?? SYNTHETIC_DEFAULTS.features) : 2,
        labels: 1,
      };
    case "inline": {
      const samples = inputsOf(source.x).map(([, x]) => firstShape(x));
      return {
        rows: samples[0]?.[0] ?? 0,
        features: samples.reduce((total, shape) => total + sizeOf(shape.slice(1)), 0),
        labels: sizeOf(firstShape(source.y).slice(1)),
      };
    }
    default:
      return null;
  }
}

/** Inline `x` as [input name, samples] pairs; a single input's name is "". */
export function inputsOf(x: InlineSource["x"]): [string, unknown[]][] {
  return Array.isArray(x) ? [["", x]] : Object.entries(x);
}

/**
 * Inline data the trainer can use: each input's samples and the labels of one shape each (nested lists of
 * numbers, ragged nowhere), as many of each. One issue per list at most, at the first element that breaks
 * its shape.
 */
export function inlineIssues(source: InlineSource, path: string): Issue[] {
  const issues: Issue[] = [];
  const lists: [string, unknown[]][] = [
    ...inputsOf(source.x).map(([name, x]): [string, unknown[]] => [
      name === "" ? `${path}/x` : `${path}/x/${pointerToken(name)}`,
      x,
    ]),
    [`${path}/y`, source.y],
  ];
  const counts: [string, number][] = [];
  for (const [at, list] of lists) {
    const shaped = shapeOf(list);
    if ("shape" in shaped) counts.push([at, shaped.shape[0]]);
    else issues.push({ path: `${at}${shaped.at}`, message: shaped.message });
  }
  const [first, count] = counts[0] ?? [];
  for (const [at, n] of counts.slice(1)) {
    if (n !== count) {
      issues.push({ path: at, message: `has ${n} samples; ${first.slice(path.length + 1)} has ${count}` });
    }
  }
  return issues;
}

/** What one source's own fields say is wrong: inline lists' shapes, a file source's fields for its format. */
export function dataSourceIssues(source: DataSource, path: string): Issue[] {
  if (source.source === "inline") return inlineIssues(source, path);
  if (source.source === "uri" || source.source === "dataset") return fileSourceIssues(source, path);
  return [];
}

/** "12,000 rows × 41 columns (40 features + 1 label) = 492,000 cells". */
export function describeCells(size: { rows: number; features: number; labels: number }): string {
  const columns = size.features + size.labels;
  const n = (value: number) => value.toLocaleString("en-US");
  return `${n(size.rows)} rows × ${n(columns)} columns (${n(size.features)} features + ${n(size.labels)} label${size.labels === 1 ? "" : "s"}) = ${n(size.rows * columns)} cells`;
}

export function cellsOf(size: { rows: number; features: number; labels: number }): number {
  return size.rows * (size.features + size.labels);
}

/** The end of every message about too much data: the limit, and its setting. */
export function cellLimit(maxCells: number): string {
  return `this service accepts at most ${maxCells.toLocaleString("en-US")} cells of data per job, training and validation together (MAX_DATA_CELLS)`;
}

/** The service's cell limit and how many cells the job's other data (training, for validation) uses. */
export interface CellBudget {
  maxCells: number;
  used: number;
}

/** "; this service accepts at most …", after a description of the data that exceeded the budget. */
export function overLimit(budget: CellBudget): string {
  const others = budget.used > 0 ? ` besides the training data's ${budget.used.toLocaleString("en-US")}` : "";
  return `${others}; ${cellLimit(budget.maxCells)}`;
}

/**
 * What the spec alone says about the job's data size: each builtin or inline source, and the two together,
 * against `maxCells`. Files are checked by the worker as it reads them.
 */
export function dataSizeIssues(data: DataSpec, maxCells: number, path = "/data"): Issue[] {
  const sources = [
    { path, source: data as DataSource },
    ...(data.validation ? [{ path: `${path}/validation`, source: data.validation }] : []),
  ];
  const issues: Issue[] = [];
  let total = 0;
  for (const { path: at, source } of sources) {
    const size = sourceSize(source);
    if (size === null) continue;
    const cells = cellsOf(size);
    total += cells;
    if (cells <= maxCells) continue;
    const columns = size.features + size.labels;
    const fix =
      source.source === "builtin"
        ? `: use at most ${Math.max(1, Math.floor(maxCells / columns)).toLocaleString("en-US")} samples${source.name === "regression" ? " or fewer features" : ""}`
        : ": send fewer rows, or upload the data (POST /v1/datasets)";
    issues.push({
      path: source.source === "builtin" ? `${at}/samples` : `${at}/x`,
      message: `has ${describeCells(size)}; ${cellLimit(maxCells)}${fix}`,
    });
  }
  if (issues.length === 0 && total > maxCells) {
    issues.push({
      path: `${path}/validation`,
      message: `training and validation data together have ${total.toLocaleString("en-US")} cells; ${cellLimit(maxCells)}`,
    });
  }
  return issues;
}
