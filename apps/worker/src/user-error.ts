import { CallbackSpecError } from "@plateau/callbacks";
import { InvalidKeyPartError } from "@plateau/storage";
import { SpecError } from "@plateau/training";

/** A mistake in the job the user can fix, as the message to record: such a job fails once, never retried. */
export function userMessage(error: unknown): string | null {
  if (error instanceof SpecError || error instanceof CallbackSpecError) return error.message;
  if (error instanceof InvalidKeyPartError)
    return `a callback names a file Plateau cannot store: ${error.message}`;
  // tfjs-layers reports a model that does not fit the data (input shape, label shape) as a ValueError.
  if (error instanceof Error && error.constructor.name === "ValueError") {
    return `the model does not fit the data: ${error.message} Change the first layer's input_shape or the last layer's units to match the data's features and labels.`;
  }
  return null;
}
