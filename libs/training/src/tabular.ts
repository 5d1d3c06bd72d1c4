import { SpecError } from "./spec-error";
import type { Table } from "./synthetic";

export type TableFormat = "csv" | "jsonl";

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
}

interface Raw {
  columns: string[];
  /** Each row's cells by column, with the file line it came from. */
  rows: { line: number; cells: Record<string, unknown> }[];
}

/** Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes and newlines). */
function csvRecords(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      fields.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      fields.push(field);
      if (fields.length > 1 || fields[0].trim() !== "") records.push({ line: start, fields });
      fields = [];
      field = "";
      line++;
      start = line;
    } else {
      field += c;
    }
  }
  fields.push(field);
  if (fields.length > 1 || fields[0].trim() !== "") records.push({ line: start, fields });
  return records;
}

function parseCsv(text: string, fail: (message: string) => never): Raw {
  const [header, ...records] = csvRecords(text.replace(/^\uFEFF/, ""));
  if (!header) fail("the file is empty; expected a header row of column names");
  const columns = header.fields.map((name) => name.trim());
  const rows = records.map(({ line, fields }) => {
    if (fields.length !== columns.length) {
      fail(`line ${line} has ${fields.length} cells but the header names ${columns.length} columns`);
    }
    return { line, cells: Object.fromEntries(columns.map((name, i) => [name, fields[i]])) };
  });
  return { columns, rows };
}

function parseJsonl(text: string, fail: (message: string) => never): Raw {
  const rows: Raw["rows"] = [];
  const columns: string[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(content);
    } catch (error) {
      fail(`line ${i + 1} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      fail(`line ${i + 1} must be a JSON object of column values`);
    }
    for (const key of Object.keys(row as object)) if (!columns.includes(key)) columns.push(key);
    rows.push({ line: i + 1, cells: row as Record<string, unknown> });
  });
  return { columns, rows };
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
export function readTable(text: string, options: TableOptions): Table {
  const where = options.source ? ` in ${options.source}` : "";
  const path = options.path ?? "/data";
  const fail = (message: string, at = path): never => {
    throw new SpecError([{ path: at, message: `${message}${where}` }]);
  };
  const raw = options.format === "csv" ? parseCsv(text, fail) : parseJsonl(text, fail);
  if (raw.rows.length === 0) fail("the file has no data rows");
  const labels = typeof options.label === "string" ? [options.label] : options.label;
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

  const cell = (row: Raw["rows"][number], index: number, name: string): number => {
    const value = toNumber(row.cells[name]);
    if (!Number.isFinite(value)) {
      fail(
        `non-numeric cell at row ${index + 1} (line ${row.line}), column '${name}': ${JSON.stringify(row.cells[name] ?? null)}`,
      );
    }
    return value;
  };
  const x = raw.rows.map((row, i) => features.map((name) => cell(row, i, name)));

  if (labels.length > 1) {
    return { x, y: raw.rows.map((row, i) => labels.map((name) => cell(row, i, name))), features };
  }
  const label = labels[0];
  const values = raw.rows.map((row) => row.cells[label]);
  const textual = values.some((value) => typeof value === "string" && !Number.isFinite(toNumber(value)));
  if (!textual && !options.classes) return { x, y: raw.rows.map((row, i) => cell(row, i, label)), features };

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
  return { x, y, features, classes };
}
