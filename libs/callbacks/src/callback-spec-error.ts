// No tfjs here: validation (loaded by the API) throws it too.
/**
 * Training stopped because of what the job's spec says (a filepath field the logs lack, a rule or schedule
 * expression that fails or gives an impossible rate): retrying the job cannot help, the spec must change.
 */
export class CallbackSpecError extends Error {
  override name = "CallbackSpecError";
}
