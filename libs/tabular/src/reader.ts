import { RowReader, type TableFormat, type TableRow, type TableSummary } from "./rows";
import { TableError } from "./table-error";
import { Utf8Chunks } from "./utf8";

/**
 * Reads a CSV or JSONL file from its bytes as they arrive (an upload on its way to storage), with the
 * same rows and errors as `parseTable` on the whole text, plus invalid UTF-8. Holds no more than the
 * record being read, the columns and a count.
 */
export class TableReader {
  private readonly utf8 = new Utf8Chunks();
  private readonly rows: RowReader;

  constructor(format: TableFormat, onRow?: (row: TableRow) => void) {
    this.rows = new RowReader(format, onRow);
  }

  /** Throws a TableError at the first problem; the reader is then done. */
  write(chunk: Uint8Array): void {
    this.read(this.utf8.decode(chunk));
  }

  /** After the last chunk: the columns and row count, or a TableError. */
  end(): TableSummary {
    this.read(this.utf8.decode(new Uint8Array(0), true));
    return this.rows.end();
  }

  private read({ text, invalid }: { text: string; invalid: boolean }) {
    this.rows.write(text);
    if (invalid) throw new TableError(`line ${this.rows.line} is not valid UTF-8 text`);
  }
}
