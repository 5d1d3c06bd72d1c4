export { type DataUriRules, dataUriKey, dataUriPrefixes } from "./data-uri";
export {
  type CountParams,
  type Limits,
  type Validation,
  validateJobSpec,
  withCallbackIssues,
} from "./validate";
