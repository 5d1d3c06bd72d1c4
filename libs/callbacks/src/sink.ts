import type * as tf from "@tensorflow/tfjs";

/** What a checkpoint is, as reported to the sink and in `checkpoint` events. */
export interface CheckpointArtifact {
  /** Filepath rendered from the template (no extension: the sink decides the layout). */
  filepath: string;
  /** 0-based epoch index, as in events (the filepath template uses Keras's 1-based `{epoch}`). */
  epoch: number;
  /** 0-based batch index within the epoch for `save_freq` saves, null for epoch-end saves. */
  batch: number | null;
  monitor: string;
  monitor_value: number | null;
  is_best: boolean;
  weights_only: boolean;
}

/**
 * Where callbacks write artifacts. The library does no I/O itself: the worker injects a sink that writes
 * to S3, tests use `MemorySink`.
 */
export interface ArtifactSink {
  saveModel(model: tf.LayersModel, artifact: CheckpointArtifact): Promise<void>;
  appendText(filename: string, text: string, options: { append: boolean }): Promise<void>;
}

export interface SavedModel {
  artifact: CheckpointArtifact;
  /** A copy of every weight's values at save time. */
  weights: Float32Array[];
}

/** Keeps everything in memory; for tests and the dry-run simulator. */
export class MemorySink implements ArtifactSink {
  readonly models: SavedModel[] = [];
  readonly files = new Map<string, string>();

  async saveModel(model: tf.LayersModel, artifact: CheckpointArtifact): Promise<void> {
    const weights = await Promise.all(model.getWeights().map(async (w) => Float32Array.from(await w.data())));
    this.models.push({ artifact: { ...artifact }, weights });
  }

  async appendText(filename: string, text: string, options: { append: boolean }): Promise<void> {
    const before = options.append ? (this.files.get(filename) ?? "") : "";
    this.files.set(filename, before + text);
  }
}
