import type { Tf } from "@plateau/training";
import type { io, LayersModel, Tensor } from "@tensorflow/tfjs";

/** What `model.save` would write, captured in memory. */
export async function captureArtifacts(
  model: LayersModel,
  includeOptimizer: boolean,
): Promise<io.ModelArtifacts> {
  let captured: io.ModelArtifacts | undefined;
  // With includeOptimizer, tfjs 4.22 saves optimizer.getWeights(), whose first entry is a new scalar (the
  // iteration count) it never disposes: it is caught here and disposed.
  const optimizer = includeOptimizer ? model.optimizer : undefined;
  const fresh: Tensor[] = [];
  if (optimizer) {
    const getWeights = optimizer.getWeights.bind(optimizer);
    optimizer.getWeights = async () => {
      const weights = await getWeights();
      fresh.push(...weights.filter((weight) => weight.name === "iter").map((weight) => weight.tensor));
      return weights;
    };
  }
  try {
    await model.save(
      {
        save: async (artifacts) => {
          captured = artifacts;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
        },
      },
      { includeOptimizer },
    );
  } finally {
    // The prototype's method again.
    if (optimizer) delete (optimizer as { getWeights?: unknown }).getWeights;
    for (const tensor of fresh) tensor.dispose();
  }
  return captured!;
}

/**
 * The model a job ended with, full: topology, weights and — when a bare tfjs can load them back — the
 * training config (optimizer, loss, metrics) and the optimizer's slots, tfjs's `includeOptimizer`, so
 * `model.fit` continues on the loaded model without compiling. tfjs cannot serialize a loss given as a
 * function (Plateau's Keras hinge losses, loss objects) and does not know every metric by name when
 * loading; such a model is stored without them.
 */
export async function captureFinalModel(
  tf: Tf,
  model: LayersModel,
): Promise<{ artifacts: io.ModelArtifacts; trainingConfig: boolean }> {
  const full = await captureArtifacts(model, true).catch(() => undefined);
  // tfjs writes a loss given as a function as {} (and loads that as "no loss"): only a named one is kept.
  if (full && typeof full.trainingConfig?.loss === "string" && (await loadsBack(tf, full))) {
    return { artifacts: full, trainingConfig: true };
  }
  return { artifacts: await captureArtifacts(model, false), trainingConfig: false };
}

/** Whether `tf.loadLayersModel` takes these artifacts back as they are (training config included). */
async function loadsBack(tf: Tf, artifacts: io.ModelArtifacts): Promise<boolean> {
  try {
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    loaded.optimizer?.dispose();
    loaded.dispose();
    return true;
  } catch {
    return false;
  }
}
