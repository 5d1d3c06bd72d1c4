export {
  BACKEND_ORDER,
  type BackendName,
  type BackendPreference,
  type SelectedBackend,
  selectBackend,
  type Tf,
} from "./backend";
export {
  buildOptimizer,
  type CompileSpec,
  checkCompile,
  compileModel,
  LOSSES,
  logKeys,
  METRICS,
  OPTIMIZER_DEFAULTS,
  type OptimizerName,
  type OptimizerSpec,
} from "./compile";
export {
  type DataFiles,
  type DataSource,
  type DataSpec,
  type Dataset,
  IRIS_CLASSES,
  loadData,
  readSource,
  SYNTHETIC_DEFAULTS,
  toDataset,
} from "./data";
export { checkFit, fitArgs, hasValidation } from "./fit";
export { SUPPORTED_LAYERS } from "./keras-config";
export { buildModel, checkModel, countModelParams, type LayerSpec, type ModelSpec } from "./model";
export {
  CompileSpecSchema,
  DataSourceSchema,
  DataSpecSchema,
  type FitSpec,
  FitSpecSchema,
  LayerSpecSchema,
  ModelSpecSchema,
  OptimizerSpecSchema,
} from "./schemas";
export { SpecError, type SpecIssue } from "./spec-error";
export type { Table } from "./synthetic";
export { readTable, type TableFormat, type TableOptions } from "./tabular";
