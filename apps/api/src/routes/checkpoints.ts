import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Config } from "@plateau/config";
import { BestCheckpointSchema, CheckpointListSchema, isUuid, Uuid } from "@plateau/contract";
import { bestCheckpoint, type Checkpoint, type Db, getCheckpoint, listCheckpoints } from "@plateau/db";
import {
  checkpointPrefix,
  fileKey,
  getObjectText,
  InvalidKeyPartError,
  MODEL_JSON,
  presignGet,
  readModelJson,
  topologyKey,
} from "@plateau/storage";
import type { FastifyRequest } from "fastify";
import Type from "typebox";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef } from "../errors";
import { findJob, JobIdParams } from "../job-params";

const CheckpointParams = Type.Object({
  id: Uuid,
  checkpoint: Type.Union([Uuid, Type.Literal("best")], { description: "A checkpoint id, or best." }),
});
const FileParams = Type.Object({ ...CheckpointParams.properties, file: Type.String() });

/** Checkpoints of a job, and their models served so that `tf.loadLayersModel(model_url)` loads them. */
export const checkpointRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, { db, storage, config }) => {
  app.get(
    "/v1/jobs/:id/checkpoints",
    {
      schema: {
        tags: ["checkpoints"],
        summary: "Every checkpoint the job saved, oldest first",
        params: JobIdParams,
        response: { 200: CheckpointListSchema, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      await findJob(db, request.params.id);
      const rows = await listCheckpoints(db, request.params.id);
      return { items: rows.map(checkpointView) };
    },
  );

  app.get(
    "/v1/jobs/:id/checkpoints/best",
    {
      schema: {
        tags: ["checkpoints"],
        summary: "The best checkpoint and a URL tf.loadLayersModel loads as is",
        description:
          "model_url is this API's model.json of that checkpoint; its weight files redirect to presigned S3 " +
          "URLs minted per request, valid until expires_at for URLs obtained now.",
        params: JobIdParams,
        response: {
          200: BestCheckpointSchema,
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const best = await findBest(db, id);
      return {
        id: best.id,
        epoch: best.epoch,
        monitor: best.monitor,
        value: best.value,
        model_url: modelUrl(config, request, id, best.id),
        expires_at: new Date(Date.now() + storage.presignTtlSeconds * 1000).toISOString(),
      };
    },
  );

  app.get(
    `/v1/jobs/:id/checkpoints/:checkpoint/${MODEL_JSON}`,
    {
      schema: {
        tags: ["checkpoints"],
        summary: "A checkpoint's tfjs model.json (best: a redirect to the current best's)",
        description:
          "Weight paths are relative, so tfjs fetches them from this API, which redirects each to S3. " +
          "A weights-only checkpoint is served with the job's model topology.",
        params: CheckpointParams,
        response: {
          200: Type.Object({}, { additionalProperties: true, description: "tfjs model.json" }),
          302: Type.Null({ description: "best: redirect to the current best checkpoint's model.json." }),
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { id, checkpoint } = request.params;
      if (checkpoint === "best") {
        const best = await findBest(db, id);
        return reply.redirect(modelUrl(config, request, id, best.id), 302);
      }
      const row = await findCheckpoint(db, id, checkpoint);
      const modelJson = await readModelJson(storage, checkpointPrefix(id, row.name));
      if (!modelJson) throw missingObjects(row);
      if (!modelJson.modelTopology) {
        const topology = await getObjectText(storage, topologyKey(id));
        if (topology === undefined) throw missingObjects(row);
        modelJson.modelTopology = JSON.parse(topology) as object;
      }
      return modelJson;
    },
  );

  app.get(
    "/v1/jobs/:id/checkpoints/:checkpoint/:file",
    {
      schema: {
        tags: ["checkpoints"],
        summary: "A weight file of a checkpoint: a redirect to a presigned S3 URL",
        params: FileParams,
        response: {
          302: Type.Null({ description: "Location: a presigned S3 URL of the weight file." }),
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { id, checkpoint, file } = request.params;
      const row = checkpoint === "best" ? await findBest(db, id) : await findCheckpoint(db, id, checkpoint);
      let key: string;
      try {
        key = fileKey(checkpointPrefix(id, row.name), file);
      } catch (error) {
        if (!(error instanceof InvalidKeyPartError)) throw error;
        throw new ApiError(400, "invalid_request", error.message, [
          { path: "/params/file", message: error.message },
        ]);
      }
      const { url } = await presignGet(storage, key);
      return reply.redirect(url, 302);
    },
  );
};

function checkpointView(row: Checkpoint) {
  return {
    id: row.id,
    name: row.name,
    epoch: row.epoch,
    batch: row.batch,
    monitor: row.monitor,
    value: row.value,
    is_best: row.isBest,
    weights_only: row.weightsOnly,
    size_bytes: Number(row.sizeBytes),
    created_at: row.createdAt.toISOString(),
  };
}

async function findBest(db: Db, jobId: string): Promise<Checkpoint> {
  const job = await findJob(db, jobId);
  const best = await bestCheckpoint(db, jobId);
  if (best) return best;
  throw new ApiError(
    404,
    "no_checkpoint",
    `Job ${jobId} has no checkpoint yet (status ${job.status}). Checkpoints come from a ModelCheckpoint callback; ` +
      "the best one appears after its first save.",
  );
}

async function findCheckpoint(db: Db, jobId: string, checkpointId: string): Promise<Checkpoint> {
  await findJob(db, jobId);
  const row = isUuid(checkpointId) ? await getCheckpoint(db, jobId, checkpointId) : null;
  if (!row) throw new ApiError(404, "not_found", `Job ${jobId} has no checkpoint ${checkpointId}.`);
  return row;
}

function missingObjects(row: Checkpoint): ApiError {
  return new ApiError(
    404,
    "not_found",
    `The files of checkpoint ${row.id} (${row.name}) are not in storage; it may have been overwritten or deleted.`,
  );
}

/** Absolute, because tf.loadLayersModel needs a URL: PUBLIC_URL when set, else the request's own origin. */
function modelUrl(
  config: Pick<Config, "PUBLIC_URL">,
  request: FastifyRequest,
  jobId: string,
  id: string,
): string {
  const origin = config.PUBLIC_URL
    ? config.PUBLIC_URL.replace(/\/+$/, "")
    : `${request.protocol}://${request.host}`;
  return `${origin}/v1/jobs/${jobId}/checkpoints/${id}/${MODEL_JSON}`;
}
