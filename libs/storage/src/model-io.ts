import { randomBytes } from "node:crypto";
// Types only: the API serves checkpoints through this module without loading tfjs itself.
import type { io, LayersModel } from "@tensorflow/tfjs";
import type { Storage } from "./client";
import { fileKey, MODEL_JSON } from "./keys";
import { deleteKeys, getObjectBytes, getObjectText, listKeys, putObject, uploadObject } from "./objects";

/** A stored model.json; `modelTopology` is absent for a weights-only save. */
export type StoredModelJson = Omit<io.ModelJSON, "modelTopology"> & { modelTopology?: object };

// tfjs's own converter shards weights at 4 MiB, which browsers and CDNs cache comfortably.
const SHARD_BYTES = 4 * 1024 * 1024;
const PARALLEL_UPLOADS = 4;

export interface S3SaveOptions {
  /** Store only the weights manifest and shards (Keras `save_weights_only`). */
  weightsOnly?: boolean;
}

export interface S3SaveResult extends io.SaveResult {
  modelKey: string;
  /** Every object written: the weight shards, then model.json. */
  keys: string[];
  /** Bytes written to S3 for this save, model.json included. */
  sizeBytes: number;
}

/**
 * A tfjs IOHandler that writes model.json plus weight shards under `prefix` (which ends in "/"):
 * `await model.save(s3SaveHandler(storage, checkpointPrefix(jobId, "best")))`.
 *
 * The manifest names shards relatively, because tfjs resolves them against the model.json URL. Each save
 * writes shards with fresh names first and model.json last, then removes the previous save's shards, so
 * a reader holding either manifest finds the shards it names while the checkpoint is being overwritten.
 */
export function s3SaveHandler(storage: Storage, prefix: string, options: S3SaveOptions = {}): io.IOHandler {
  return {
    save: async (artifacts) => {
      const weights = concat(artifacts.weightData);
      const saveId = randomBytes(4).toString("hex");
      const count = Math.max(1, Math.ceil(weights.byteLength / SHARD_BYTES));
      const shards = Array.from({ length: count }, (_, i) => ({
        name: `${saveId}.group1-shard${i + 1}of${count}.bin`,
        bytes: weights.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES),
      }));
      const shardKeys = shards.map((shard) => fileKey(prefix, shard.name));
      // A few shards at a time: a large model has hundreds, and S3 clients share one connection pool.
      for (let start = 0; start < shards.length; start += PARALLEL_UPLOADS) {
        await Promise.all(
          shards.slice(start, start + PARALLEL_UPLOADS).map((shard, i) =>
            uploadObject(storage, shardKeys[start + i], shard.bytes, {
              contentType: "application/octet-stream",
            }),
          ),
        );
      }

      const modelJson: StoredModelJson = {
        modelTopology: options.weightsOnly ? undefined : (artifacts.modelTopology as object),
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        trainingConfig: options.weightsOnly ? undefined : artifacts.trainingConfig,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        weightsManifest: [{ paths: shards.map((shard) => shard.name), weights: artifacts.weightSpecs ?? [] }],
      };
      const json = JSON.stringify(modelJson);
      const modelKey = fileKey(prefix, MODEL_JSON);
      await putObject(storage, modelKey, json, { contentType: "application/json" });

      await removeStaleShards(storage, prefix, new Set([modelKey, ...shardKeys]));

      const topologyBytes = Buffer.byteLength(JSON.stringify(modelJson.modelTopology ?? null));
      const result: S3SaveResult = {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          modelTopologyBytes: options.weightsOnly ? 0 : topologyBytes,
          weightSpecsBytes: Buffer.byteLength(JSON.stringify(artifacts.weightSpecs ?? [])),
          weightDataBytes: weights.byteLength,
        },
        modelKey,
        keys: [...shardKeys, modelKey],
        sizeBytes: Buffer.byteLength(json) + weights.byteLength,
      };
      return result;
    },
  };
}

/** Saves `model` under `prefix` and reports what was written (size for the checkpoint row). */
export async function saveModel(
  storage: Storage,
  prefix: string,
  model: LayersModel,
  options: S3SaveOptions & { includeOptimizer?: boolean } = {},
): Promise<S3SaveResult> {
  const handler = s3SaveHandler(storage, prefix, options);
  return (await model.save(handler, { includeOptimizer: options.includeOptimizer })) as S3SaveResult;
}

async function removeStaleShards(storage: Storage, prefix: string, current: Set<string>) {
  const stale = (await listKeys(storage, prefix)).filter(
    (key) => !current.has(key) && !key.slice(prefix.length).includes("/") && key.endsWith(".bin"),
  );
  await deleteKeys(storage, stale);
}

export class ModelNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no model at s3 key ${key}`);
    this.name = "ModelNotFoundError";
  }
}

/** The stored model.json under `prefix`, or undefined when none was saved there. */
export async function readModelJson(storage: Storage, prefix: string): Promise<StoredModelJson | undefined> {
  const text = await getObjectText(storage, fileKey(prefix, MODEL_JSON));
  return text === undefined ? undefined : (JSON.parse(text) as StoredModelJson);
}

export interface S3LoadOptions {
  /** Topology for a weights-only save (e.g. the job's model), used when model.json has none. */
  modelTopology?: object;
}

/**
 * A tfjs IOHandler reading what `s3SaveHandler` wrote: `await tf.loadLayersModel(s3LoadHandler(storage, prefix))`.
 * Shard names in the manifest must be plain file names inside `prefix`; anything else is rejected.
 */
export function s3LoadHandler(storage: Storage, prefix: string, options: S3LoadOptions = {}): io.IOHandler {
  return { load: () => loadModelArtifacts(storage, prefix, options) };
}

export async function loadModelArtifacts(
  storage: Storage,
  prefix: string,
  options: S3LoadOptions = {},
): Promise<io.ModelArtifacts> {
  const modelJson = await readModelJson(storage, prefix);
  if (!modelJson) throw new ModelNotFoundError(fileKey(prefix, MODEL_JSON));
  const weightSpecs: io.WeightsManifestEntry[] = [];
  const paths: string[] = [];
  for (const group of modelJson.weightsManifest) {
    weightSpecs.push(...group.weights);
    paths.push(...group.paths);
  }
  const shards = await Promise.all(
    paths.map(async (path) => {
      const key = fileKey(prefix, path);
      const bytes = await getObjectBytes(storage, key);
      if (!bytes) throw new ModelNotFoundError(key);
      return bytes;
    }),
  );
  return {
    modelTopology: modelJson.modelTopology ?? options.modelTopology,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    trainingConfig: modelJson.trainingConfig,
    userDefinedMetadata: modelJson.userDefinedMetadata,
    weightSpecs,
    weightData: toArrayBuffer(Buffer.concat(shards)),
  };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function concat(data: io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const buffers = Array.isArray(data) ? data : [data];
  return Buffer.concat(buffers.map((buffer) => new Uint8Array(buffer)));
}
