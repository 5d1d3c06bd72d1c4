import type * as tf from "@tensorflow/tfjs";

export type UnresolvedLogs = Record<string, number | tf.Scalar>;

/**
 * tfjs hands callbacks logs whose values may still be scalar tensors. Resolve them in place, as tfjs's own
 * CustomCallback does, so every later callback and the History see plain numbers.
 */
export async function resolveLogs(logs: UnresolvedLogs | undefined): Promise<Record<string, number>> {
  if (!logs) return {};
  for (const [key, value] of Object.entries(logs)) {
    if (typeof value !== "number") {
      logs[key] = (await value.data())[0];
      value.dispose();
    }
  }
  return logs as Record<string, number>;
}
