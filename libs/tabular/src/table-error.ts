/** A file the reader cannot read as a table; the message names the line to fix. */
export class TableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TableError";
  }
}
