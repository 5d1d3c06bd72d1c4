import { TableError } from "./table-error";

/**
 * The most characters one record may have. The reader holds a record until it ends, so this bounds its
 * memory on a stream of any size (a quote that never closes would otherwise buffer the whole upload).
 */
export const MAX_RECORD_CHARS = 1_000_000;

type OnRecord = (fields: string[], line: number) => void;

/**
 * Splits text, fed in pieces of any size, into records and tells each one's first line. A line ends at
 * "\n", "\r\n" or a lone "\r" — inside quoted fields too, so line numbers match what an editor shows for
 * any mix of endings. With `delimited` (CSV, RFC 4180) a record is comma-separated fields and quoted
 * fields may hold commas, quotes ("") and line breaks; without it (JSONL) a record is one whole line.
 * Blank records are skipped. Keeps no more than the record being read.
 */
export class Tokenizer {
  /** The line the next character is on. */
  line = 1;
  private start = 1;
  private fields: string[] = [];
  private field = "";
  private chars = 0;
  private quoted = false;
  private quoteLine = 0;
  // The last character closed a quoted field, so a quote now is an escaped one ("" inside quotes).
  private closedQuote = false;
  // The last character was "\r": a "\n" now completes that line break rather than starting another.
  private afterCr = false;
  private begun = false;

  constructor(
    private readonly delimited: boolean,
    private readonly onRecord: OnRecord,
  ) {}

  write(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (!this.begun) {
        this.begun = true;
        // A byte-order mark is an encoding detail, not part of the first column's name.
        if (c === "\uFEFF") continue;
      }
      if (c === "\n" || c === "\r") {
        const crlf = this.afterCr && c === "\n";
        this.afterCr = c === "\r";
        if (!crlf) this.line++;
        if (!this.quoted) {
          this.closedQuote = false;
          if (!crlf) this.endRecord();
          continue;
        }
      } else {
        this.afterCr = false;
      }
      if (++this.chars > MAX_RECORD_CHARS) {
        throw new TableError(`line ${this.start} is longer than ${MAX_RECORD_CHARS} characters`);
      }
      if (this.delimited) this.csv(c);
      else this.field += c;
    }
  }

  /** Ends the last record: call once after the last write. */
  end(): void {
    if (this.quoted) throw new TableError(`line ${this.quoteLine} has a quoted field that never closes`);
    this.endRecord();
  }

  private csv(c: string) {
    const escaped = this.closedQuote;
    this.closedQuote = false;
    if (this.quoted) {
      if (c === '"') {
        this.quoted = false;
        this.closedQuote = true;
      } else {
        this.field += c;
      }
    } else if (c === '"') {
      if (escaped) this.field += '"';
      else this.quoteLine = this.line;
      this.quoted = true;
    } else if (c === ",") {
      this.fields.push(this.field);
      this.field = "";
    } else {
      this.field += c;
    }
  }

  private endRecord() {
    const fields = this.fields;
    const line = this.start;
    fields.push(this.field);
    this.fields = [];
    this.field = "";
    this.chars = 0;
    this.start = this.line;
    if (fields.length > 1 || fields[0].trim() !== "") this.onRecord(fields, line);
  }
}
