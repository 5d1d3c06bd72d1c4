export {
  BACKEND_ORDER,
  type BackendName,
  type BackendPreference,
  type SelectedBackend,
  selectBackend,
  type Tf,
} from "./backend";
export { buildOptimizer, checkCompile, compileModel, LOSSES, logKeys, METRICS } from "./compile";
export {
  type DataFiles,
  type Dataset,
  IRIS_CLASSES,
  loadData,
  readSamples,
  readSource,
  type Samples,
  SYNTHETIC_DEFAULTS,
  toDataset,
} from "./data";
export { formatOf } from "./file-source";
export { checkFit, fitArgs, hasValidation } from "./fit";
export { checkDataFitsModel } from "./fit-tensors";
export { buildModel, checkModel, countModelParams } from "./model";
export { SpecError } from "./spec-error";
export type { Table } from "./synthetic";
export { readTable, type TableFormat, type TableOptions } from "./tabular";
