import { parseTable, TableError, type TableFormat, type TableRow } from "@plateau/tabular";
import { type CellBudget, describeCells, overLimit } from "./data-size";
import { firstShape, flatten, shapeOf, sizeOf } from "./samples";
import { SpecError } from "./spec-error";
import type { Table } from "./synthetic";

export type { TableFormat };

/** A file's rows; `sampleShape` when its one feature column holds nested lists (each row flattened). */
export type FileTable = Table & { sampleShape?: number[] };

export interface TableOptions {
  format: TableFormat;
  /** Label column, or columns for a multi-target regression. */
  label: string | string[];
  /** Feature columns, in order; every column but the label when left out. */
  features?: string[];
  /**
   * Class names in index order, to encode a text label the same way as another file did (validation
   * data must use the training data's classes).
   */
  classes?: string[];
  /** Where the error messages say the data came from, e.g. "s3://bucket/train.csv". */
  source?: string;
  /** JSON pointer of the data spec, for error paths. */
  path?: string;
  /** The cell limit (rows × used columns); reading stops with a SpecError past what it leaves. */
  budget?: CellBudget;
}

/** The file's rows; a file the reader refuses is a SpecError naming the line, like every other problem. */
function read(
  text: string,
  format: TableFormat,
  fail: (message: string) => never,
  onRow?: (row: TableRow, before: number) => void,
) {
  try {
    return parseTable(text, format, onRow);
  } catch (error) {
    if (error instanceof TableError) fail(error.message);
    throw error;
  }
}

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return Number.NaN;
}

/**
 * Reads a CSV (with header) or JSONL file into features and labels. A text label becomes a class index
 * (classes sorted by name, or as given); every other cell must be a number. Errors say which column,
 * line and file to fix.
 */
export function readTable(text: string, options: TableOptions): FileTable {
  const where = options.source ? ` in ${options.source}` : "";
  const path = options.path ?? "/data";
  const fail = (message: string, at = path): never => {
    throw new SpecError([{ path: at, message: `${message}${where}` }]);
  };
  const labels = typeof options.label === "string" ? [options.label] : options.label;
  const { budget } = options;
  const maxCells = budget && budget.maxCells - budget.used;
  const tooMany = (size: { rows: number; features: number }, line?: number): never => {
    const cells = describeCells({ ...size, labels: labels.length });
    const at = line === undefined ? `has ${cells}` : `reaches ${cells} at line ${line}`;
    throw new SpecError([
      {
        path,
        message: `${options.source ?? "the file"} ${at}${overLimit(budget!)}: use fewer rows, or fewer feature columns with data.features`,
      },
    ]);
  };
  // Stops as soon as the rows read so far exceed the limit, before the whole file is held as rows.
  const limit =
    maxCells === undefined
      ? undefined
      : (row: TableRow, before: number) => {
          const columns = options.features ?? Object.keys(row.cells).filter((name) => !labels.includes(name));
          // A JSONL cell holding a nested list (an image) is as many cells as it has numbers.
          const features = Math.max(
            1,
            columns.reduce((total, name) => total + sizeOf(firstShape(row.cells[name])), 0),
          );
          if ((before + 1) * (features + labels.length) > maxCells)
            tooMany({ rows: before + 1, features }, row.line);
        };
  const raw = read(text, options.format, fail, limit);
  const listColumns = `; columns are: ${raw.columns.join(", ")}`;
  for (const label of labels) {
    if (!raw.columns.includes(label))
      fail(`label column '${label}' not found${listColumns}`, `${path}/label`);
  }
  const features = options.features ?? raw.columns.filter((name) => !labels.includes(name));
  features.forEach((name, i) => {
    if (!raw.columns.includes(name))
      fail(`feature column '${name}' not found${listColumns}`, `${path}/features/${i}`);
  });
  if (features.length === 0) fail(`no feature columns besides the label${listColumns}`);
  const nested = features.filter((name) => Array.isArray(raw.rows[0].cells[name]));
  if (nested.length > 0 && features.length > 1) {
    fail(
      `column '${nested[0]}' holds lists (one sample's array): give it as the only feature, data.features: ["${nested[0]}"]`,
      `${path}/features`,
    );
  }
  const shape = nested.length > 0 ? columnShape(raw.rows, features[0], fail) : null;
  const featureCells = shape ? sizeOf(shape) : features.length;
  if (maxCells !== undefined && raw.rows.length * (featureCells + labels.length) > maxCells) {
    tooMany({ rows: raw.rows.length, features: featureCells });
  }

  const cell = (row: TableRow, index: number, name: string): number => {
    const value = toNumber(row.cells[name]);
    if (!Number.isFinite(value)) {
      fail(
        `non-numeric cell at row ${index + 1} (line ${row.line}), column '${name}': ${JSON.stringify(row.cells[name] ?? null)}`,
      );
    }
    return value;
  };
  const x = shape
    ? raw.rows.map((row) => Array.from(flatten(row.cells[features[0]], shape)))
    : raw.rows.map((row, i) => features.map((name) => cell(row, i, name)));
  const table = shape ? { x, features, sampleShape: shape } : { x, features };
  if (labels.length > 1) {
    return { ...table, y: raw.rows.map((row, i) => labels.map((name) => cell(row, i, name))) };
  }
  const label = labels[0];
  const values = raw.rows.map((row) => row.cells[label]);
  if (Array.isArray(values[0])) {
    // A JSONL label holding a list: a target vector (one-hot, multi-label), the same length in every row.
    const vectorShape = columnShape(raw.rows, label, fail);
    return { ...table, y: raw.rows.map((row) => Array.from(flatten(row.cells[label], vectorShape))) };
  }
  const textual = values.some((value) => typeof value === "string" && !Number.isFinite(toNumber(value)));
  if (!textual && !options.classes) return { ...table, y: raw.rows.map((row, i) => cell(row, i, label)) };

  const names = values.map((value) => String(value ?? "").trim());
  const classes = options.classes ?? [...new Set(names)].sort();
  const y = names.map((name, i) => {
    const index = classes.indexOf(name);
    if (index < 0) {
      fail(
        `label '${name}' at row ${i + 1} (line ${raw.rows[i].line}) is not one of the classes: ${classes.join(", ")}`,
      );
    }
    return index;
  });
  return { ...table, y, classes };
}

/**
 * The shape of one sample of a JSONL column holding nested lists, the same in every row; else a
 * SpecError at the first row (and place in it) that differs.
 */
function columnShape(rows: TableRow[], name: string, fail: (message: string) => never): number[] {
  const shaped = shapeOf(rows.map((row) => row.cells[name]));
  if ("shape" in shaped) return shaped.shape.slice(1);
  const [, index, ...inside] = shaped.at.split("/");
  if (index === undefined) return fail(`column '${name}' ${shaped.message}`);
  const row = Number(index);
  const where = inside.length > 0 ? ` at [${inside.join("][")}]` : "";
  return fail(
    `column '${name}' at row ${row + 1} (line ${rows[row]?.line ?? "?"})${where} ${shaped.message.replace("sample 0", "row 1")}`,
  );
}
