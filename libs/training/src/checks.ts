/**
 * What a job spec's validation needs from this package, without tfjs: the model, compile and fit checks
 * that speak Keras, and the error they throw. The API imports this entry, never the package root (whose
 * backend selection loads tfjs); test/boundaries.test.ts holds that.
 */
export { checkCompile, logKeys, scheduleConflicts } from "./compile";
export { dataSizeIssues, dataSourceIssues, inlineIssues } from "./data-size";
export { checkFit, hasValidation } from "./fit";
export { fitDataIssues } from "./fit-data";
export { checkModel } from "./model";
export { countParamsWithoutBuilding } from "./param-count";
export { SpecError } from "./spec-error";
