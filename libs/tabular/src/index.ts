export {
  ARRAY_FORMATS,
  type ArrayFormat,
  type ArrayInfo,
  ArrayReader,
  MAX_ARRAY_RANK,
  type NdArray,
  openArrays,
} from "./npy";
export { TableReader } from "./reader";
export { parseTable, type TableFormat, type TableRow, type TableSummary } from "./rows";
export { TableError } from "./table-error";
