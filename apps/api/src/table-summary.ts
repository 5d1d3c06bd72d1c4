import type { TableFormat } from "@plateau/training";

export interface TableSummary {
  columns: string[];
  rows: number;
}

export class TableSummaryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TableSummaryError";
  }
}

/**
 * Reads a CSV or JSONL file chunk by chunk, as it streams to S3, and keeps only what the dataset
 * record needs: the column names and the number of data rows. CSV follows RFC 4180 (quoted fields may
 * hold commas, quotes and line breaks); JSONL columns are the union of the rows' keys in order of
 * appearance. Parsing the cells themselves is the worker's job (readTable) when a job uses the file.
 */
export class TableSummarizer {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  private readonly columns: string[] = [];
  private rows = 0;
  private line = 1;
  // CSV state: the record being read (only the header's fields are kept) and whether inside quotes.
  private field = "";
  private fields: string[] = [];
  private quoted = false;
  private closedQuote = false;
  private recordHasContent = false;
  private header = true;
  private skipLf = false;
  // JSONL state: the incomplete last line.
  private pending = "";

  constructor(private readonly format: TableFormat) {}

  write(chunk: Uint8Array): void {
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch {
      throw new TableSummaryError(`line ${this.line} is not valid UTF-8 text`);
    }
    if (this.format === "csv") this.csv(text);
    else this.jsonl(text);
  }

  end(): TableSummary {
    this.write(new Uint8Array(0));
    if (this.format === "csv") this.endCsvRecord();
    else this.jsonlLine(this.pending);
    if (this.columns.length === 0) throw new TableSummaryError("the file is empty; expected a header row");
    if (this.rows === 0) throw new TableSummaryError("the file has no data rows");
    return { columns: [...this.columns], rows: this.rows };
  }

  private csv(text: string) {
    for (const c of text) {
      if (this.skipLf) {
        this.skipLf = false;
        if (c === "\n") continue;
      }
      if (this.quoted) {
        if (c === '"') {
          this.quoted = false;
          this.closedQuote = true;
          continue;
        }
        if (c === "\n") this.line++;
        if (this.header) this.field += c;
        continue;
      }
      const escapedQuote = c === '"' && this.closedQuote;
      this.closedQuote = false;
      if (c === "\n" || c === "\r") {
        this.endCsvRecord();
        this.line++;
        this.skipLf = c === "\r";
        continue;
      }
      if (c === '"') {
        // `""` inside a quoted field is one quote character.
        if (this.header && escapedQuote) this.field += '"';
        this.quoted = true;
        this.recordHasContent = true;
      } else if (c === ",") {
        if (this.header) this.fields.push(this.field);
        this.field = "";
      } else if (this.header) {
        this.field += c;
      }
      if (c.trim() !== "") this.recordHasContent = true;
    }
  }

  private endCsvRecord() {
    if (this.quoted)
      throw new TableSummaryError(`a quoted field starting before line ${this.line} never closes`);
    if (this.recordHasContent) {
      if (this.header) {
        this.fields.push(this.field);
        this.columns.push(...this.fields.map((name) => name.replace(/^\uFEFF/, "").trim()));
        this.header = false;
      } else {
        this.rows++;
      }
    }
    this.field = "";
    this.fields = [];
    this.recordHasContent = false;
  }

  private jsonl(text: string) {
    const lines = (this.pending + text).split("\n");
    this.pending = lines.pop() ?? "";
    for (const line of lines) this.jsonlLine(line);
  }

  private jsonlLine(content: string) {
    const line = this.line++;
    if (content.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(content);
    } catch (error) {
      throw new TableSummaryError(`line ${line} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw new TableSummaryError(`line ${line} must be a JSON object of column values`);
    }
    for (const key of Object.keys(row)) if (!this.columns.includes(key)) this.columns.push(key);
    this.rows++;
  }
}
