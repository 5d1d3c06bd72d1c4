export { TableReader } from "./reader";
export { parseTable, type TableFormat, type TableRow, type TableSummary } from "./rows";
export { TableError } from "./table-error";
