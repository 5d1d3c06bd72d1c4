import type { TableFormat } from "@plateau/contract";
import { TableError } from "./table-error";
import { Tokenizer } from "./tokenizer";

export type { TableFormat };

/** One data row: its cells by column name, and the file line it starts on. */
export interface TableRow {
  line: number;
  cells: Record<string, unknown>;
}

export interface TableSummary {
  /** The CSV header's names, or the JSONL rows' keys in order of first appearance. */
  columns: string[];
  /** Data rows, the CSV header not counted. */
  rows: number;
}

/**
 * Turns the text of a CSV file (with a header row) or a JSONL file (a JSON object a line), fed in pieces,
 * into rows, and refuses what the trainer could not use. Keeps only the columns and a count, so it can
 * check a stream of any size; rows go to `onRow` as they end.
 */
export class RowReader {
  private readonly tokenizer: Tokenizer;
  private header: string[] | undefined;
  // JSONL columns, a Set so a wide file is not quadratic in its width.
  private readonly keys = new Set<string>();
  private rows = 0;

  constructor(
    private readonly format: TableFormat,
    private readonly onRow?: (row: TableRow) => void,
  ) {
    this.tokenizer = new Tokenizer(format === "csv", (fields, line) =>
      format === "csv" ? this.csvRecord(fields, line) : this.jsonLine(fields[0], line),
    );
  }

  /** The line the next character is on. */
  get line(): number {
    return this.tokenizer.line;
  }

  write(text: string): void {
    this.tokenizer.write(text);
  }

  end(): TableSummary {
    this.tokenizer.end();
    if (this.format === "csv" && !this.header) {
      throw new TableError("the file is empty; expected a header row of column names");
    }
    if (this.rows === 0) throw new TableError("the file has no data rows");
    return { columns: this.header ?? [...this.keys], rows: this.rows };
  }

  private csvRecord(fields: string[], line: number) {
    const header = this.header;
    if (!header) {
      this.header = fields.map((name) => name.trim());
      return;
    }
    if (fields.length !== header.length) {
      throw new TableError(
        `line ${line} has ${fields.length} cells but the header names ${header.length} columns`,
      );
    }
    this.rows++;
    this.onRow?.({ line, cells: Object.fromEntries(header.map((name, i) => [name, fields[i]])) });
  }

  private jsonLine(content: string, line: number) {
    let row: unknown;
    try {
      row = JSON.parse(content);
    } catch (error) {
      throw new TableError(`line ${line} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw new TableError(`line ${line} must be a JSON object of column values`);
    }
    for (const key of Object.keys(row)) this.keys.add(key);
    this.rows++;
    this.onRow?.({ line, cells: row as Record<string, unknown> });
  }
}

/**
 * A whole file's text, read at once: its columns and every row. `onRow` sees each row as it is read, with
 * how many came before it, and may throw to stop reading (e.g. at a size limit).
 */
export function parseTable(
  text: string,
  format: TableFormat,
  onRow?: (row: TableRow, before: number) => void,
): { columns: string[]; rows: TableRow[] } {
  const rows: TableRow[] = [];
  const reader = new RowReader(format, (row) => {
    onRow?.(row, rows.length);
    rows.push(row);
  });
  reader.write(text);
  return { columns: reader.end().columns, rows };
}
