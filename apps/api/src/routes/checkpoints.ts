import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Config } from "@plateau/config";
import {
  BestCheckpointSchema,
  CheckpointListSchema,
  FinalModelSchema,
  isUuid,
  JobFileListSchema,
  Uuid,
} from "@plateau/contract";
import {
  bestCheckpoint,
  type Checkpoint,
  type Db,
  getCheckpoint,
  getJob,
  listCheckpoints,
} from "@plateau/db";
import {
  checkpointPrefix,
  fileKey,
  filesPrefix,
  finalModelPrefix,
  getObjectText,
  InvalidKeyPartError,
  listObjects,
  MODEL_JSON,
  openObject,
  presignGet,
  readModelJson,
  topologyKey,
} from "@plateau/storage";
import type { FastifyReply, FastifyRequest } from "fastify";
import Type from "typebox";
import { callerOf } from "../auth";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef } from "../errors";
import { findJob, JobIdParams } from "../job-params";
import { type Artifact, FINAL_MODEL, ModelTokens } from "../model-token";
import { publicOrigin } from "../public-origin";

const CheckpointParams = Type.Object({
  id: Uuid,
  checkpoint: Type.Union([Uuid, Type.Literal("best")], { description: "A checkpoint id, or best." }),
});
const FileParams = Type.Object({ ...CheckpointParams.properties, file: Type.String() });
const FinalModelFileParams = Type.Object({ id: Uuid, file: Type.String() });
const JobFileParams = Type.Object({ id: Uuid, name: Type.String() });
const TokenQuery = Type.Object({
  token: Type.Optional(
    Type.String({ maxLength: 100, description: "From a model_url; instead of an Authorization header." }),
  ),
});
const keyOrToken = { auth: "token" } as const;

const modelJsonResponse = Type.Object({}, { additionalProperties: true, description: "tfjs model.json" });
const weightFileResponses = {
  200: Type.Unknown({
    description: "The file's bytes (application/octet-stream), when S3_PUBLIC_ENDPOINT is not set.",
  }),
  302: Type.Null({
    description: "Location: a presigned URL of the weight file on S3_PUBLIC_ENDPOINT, when it is set.",
  }),
  400: ErrorRef,
  404: ErrorRef,
};

/**
 * Checkpoints of a job and the model it ended with, served so that `tf.loadLayersModel(model_url)` loads
 * them, and the files its callbacks wrote (CSVLogger).
 */
export const checkpointRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, { db, storage, config }) => {
  const tokens = new ModelTokens(db, config.URL_SIGNING_SECRET);

  /** A signed model.json URL of one checkpoint, and when it stops working. */
  const signedModelUrl = async (request: FastifyRequest, artifact: Artifact) => {
    const expiresAt = new Date(Date.now() + storage.presignTtlSeconds * 1000);
    const token = await tokens.sign(artifact, expiresAt);
    return {
      url: `${modelUrl(config, request, artifact)}?token=${token}`,
      expiresAt,
    };
  };

  /**
   * The tenant a model file request acts for: its key's, or — with no key — the one a valid token was
   * signed for, which opens only the checkpoint (or final model) it names.
   */
  const tenantOf = async (request: FastifyRequest, jobId: string, checkpointId: string, token?: string) => {
    if (request.caller) return request.caller.tenantId;
    const named = isUuid(checkpointId) || checkpointId === FINAL_MODEL;
    const job = token && named && ModelTokens.plausible(token) ? await getJob(db, jobId) : null;
    if (job && (await tokens.verify({ tenantId: job.tenantId, jobId, checkpointId }, token ?? ""))) {
      return job.tenantId;
    }
    throw new ApiError(
      401,
      "unauthorized",
      "This model URL's token is invalid or has expired: get a fresh model_url from GET /v1/jobs/:id/checkpoints/best (or /v1/jobs/:id/model), or send an API key.",
    );
  };

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
      await findJob(db, request.params.id, callerOf(request).tenantId);
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
      const tenantId = callerOf(request).tenantId;
      const best = await findBest(db, id, tenantId);
      const signed = await signedModelUrl(request, { tenantId, jobId: id, checkpointId: best.id });
      return {
        id: best.id,
        epoch: best.epoch,
        monitor: best.monitor,
        value: best.value,
        model_url: signed.url,
        expires_at: signed.expiresAt.toISOString(),
      };
    },
  );

  app.get(
    `/v1/jobs/:id/checkpoints/:checkpoint/${MODEL_JSON}`,
    {
      config: keyOrToken,
      schema: {
        tags: ["checkpoints"],
        summary: "A checkpoint's tfjs model.json (best: a redirect to the current best's)",
        description:
          "Weight paths are relative, so tfjs fetches them from this API, which redirects each to S3. " +
          "A weights-only checkpoint is served with the job's model topology.",
        params: CheckpointParams,
        querystring: TokenQuery,
        response: {
          200: modelJsonResponse,
          302: Type.Null({ description: "best: redirect to the current best checkpoint's model.json." }),
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { id, checkpoint } = request.params;
      const tenantId = await tenantOf(request, id, checkpoint, request.query.token);
      if (checkpoint === "best") {
        const best = await findBest(db, id, tenantId);
        const signed = await signedModelUrl(request, { tenantId, jobId: id, checkpointId: best.id });
        return reply.redirect(signed.url, 302);
      }
      const row = await findCheckpoint(db, id, checkpoint, tenantId);
      return modelJsonAt(id, checkpointPrefix(id, row.name), () => missingObjects(row));
    },
  );

  app.get(
    "/v1/jobs/:id/checkpoints/:checkpoint/:file",
    {
      config: keyOrToken,
      schema: {
        tags: ["checkpoints"],
        summary: "A weight file of a checkpoint: its bytes, or a redirect to a presigned S3 URL",
        params: FileParams,
        querystring: TokenQuery,
        response: weightFileResponses,
      },
    },
    async (request, reply) => {
      const { id, checkpoint, file } = request.params;
      const tenantId = await tenantOf(request, id, checkpoint, request.query.token);
      const row =
        checkpoint === "best"
          ? await findBest(db, id, tenantId)
          : await findCheckpoint(db, id, checkpoint, tenantId);
      return sendWeightFile(reply, checkpointPrefix(id, row.name), file, () => missingObjects(row));
    },
  );

  /** A stored model.json under `prefix`; a weights-only one gets the job's topology. */
  const modelJsonAt = async (jobId: string, prefix: string, missing: () => ApiError) => {
    const modelJson = await readModelJson(storage, prefix);
    if (!modelJson) throw missing();
    if (!modelJson.modelTopology) {
      const topology = await getObjectText(storage, topologyKey(jobId));
      if (topology === undefined) throw missing();
      modelJson.modelTopology = JSON.parse(topology) as object;
    }
    return modelJson;
  };

  /** A weight file under `prefix`: a redirect to S3_PUBLIC_ENDPOINT when set, else its bytes. */
  const sendWeightFile = async (
    reply: FastifyReply,
    prefix: string,
    file: string,
    missing: () => ApiError,
  ) => {
    const key = keyIn(prefix, file, "/params/file");
    if (config.S3_PUBLIC_ENDPOINT) {
      const { url } = await presignGet(storage, key);
      return reply.redirect(url, 302);
    }
    // Without an S3 endpoint meant for clients, a presigned URL would name the private one (and the
    // access key id): the API passes the file through instead.
    return sendObject(reply, key, "application/octet-stream", missing);
  };

  /** Streams one object through the API. */
  const sendObject = async (reply: FastifyReply, key: string, type: string, missing: () => ApiError) => {
    const object = await openObject(storage, key);
    if (!object) throw missing();
    reply.type(type);
    if (object.contentLength !== undefined) reply.header("content-length", object.contentLength);
    return reply.send(object.body);
  };

  /** The job's final model.json, or a 404 saying why there is none. */
  const findFinalModel = async (jobId: string, tenantId: string) => {
    const job = await findJob(db, jobId, tenantId);
    const modelJson = await readModelJson(storage, finalModelPrefix(jobId));
    if (modelJson) return modelJson;
    const why =
      job.status === "queued" || job.status === "running"
        ? `it is stored when training ends (status ${job.status})`
        : job.status === "succeeded"
          ? "the job finished before Plateau kept final models; its checkpoints are at GET /v1/jobs/:id/checkpoints"
          : job.stopReason === "user_cancel"
            ? "it was cancelled before its first epoch ended"
            : `a job that ends ${job.status} with ${job.stopReason} keeps none; only a job that succeeds, or that a user cancels after an epoch, does`;
    throw new ApiError(404, "no_model", `Job ${jobId} has no final model: ${why}.`);
  };

  app.get(
    "/v1/jobs/:id/model",
    {
      schema: {
        tags: ["checkpoints"],
        summary: "The model the job ended with, as a URL tf.loadLayersModel loads as is",
        description:
          "Stored when a job succeeds (completed or early_stopping, after EarlyStopping's restore_best_weights) " +
          "or is cancelled by a user after at least one epoch, with or without ModelCheckpoint. Served like a " +
          "checkpoint: this API's model.json, its weight files streamed or redirected to S3.",
        params: JobIdParams,
        response: { 200: FinalModelSchema, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      const tenantId = callerOf(request).tenantId;
      await findFinalModel(id, tenantId);
      const signed = await signedModelUrl(request, { tenantId, jobId: id, checkpointId: FINAL_MODEL });
      return { model_url: signed.url, expires_at: signed.expiresAt.toISOString() };
    },
  );

  app.get(
    `/v1/jobs/:id/model/${MODEL_JSON}`,
    {
      config: keyOrToken,
      schema: {
        tags: ["checkpoints"],
        summary: "The final model's tfjs model.json",
        params: JobIdParams,
        querystring: TokenQuery,
        response: { 200: modelJsonResponse, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      const tenantId = await tenantOf(request, id, FINAL_MODEL, request.query.token);
      return findFinalModel(id, tenantId);
    },
  );

  app.get(
    "/v1/jobs/:id/model/:file",
    {
      config: keyOrToken,
      schema: {
        tags: ["checkpoints"],
        summary: "A weight file of the final model: its bytes, or a redirect to a presigned S3 URL",
        params: FinalModelFileParams,
        querystring: TokenQuery,
        response: weightFileResponses,
      },
    },
    async (request, reply) => {
      const { id, file } = request.params;
      const tenantId = await tenantOf(request, id, FINAL_MODEL, request.query.token);
      await findJob(db, id, tenantId);
      return sendWeightFile(reply, finalModelPrefix(id), file, () => missingFinalModel(id));
    },
  );

  app.get(
    "/v1/jobs/:id/files",
    {
      schema: {
        tags: ["files"],
        summary: "The files the job's callbacks wrote (CSVLogger), by name",
        params: JobIdParams,
        response: { 200: JobFileListSchema, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      await findJob(db, id, callerOf(request).tenantId);
      const prefix = filesPrefix(id);
      const objects = await listObjects(storage, prefix);
      const items = objects
        .map((object) => ({ ...object, name: object.key.slice(prefix.length) }))
        .filter((object) => !object.name.includes("/"))
        .map((object) => ({
          name: object.name,
          size_bytes: object.size,
          content_type: contentTypeOf(object.name),
          modified_at: object.lastModified.toISOString(),
        }));
      return { items };
    },
  );

  app.get(
    "/v1/jobs/:id/files/:name",
    {
      schema: {
        tags: ["files"],
        summary: "A file the job's callbacks wrote: its bytes",
        params: JobFileParams,
        response: {
          200: Type.Unknown({ description: "The file's bytes (text/csv for a .csv file)." }),
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.params;
      await findJob(db, id, callerOf(request).tenantId);
      const key = keyIn(filesPrefix(id), name, "/params/name");
      return sendObject(reply, key, contentTypeOf(name), () => {
        return new ApiError(
          404,
          "not_found",
          `Job ${id} has no file ${name}; list them with GET /v1/jobs/${id}/files.`,
        );
      });
    },
  );
};

/** A file's key inside `prefix`, or a 400 at `path` for a name that cannot be one. */
function keyIn(prefix: string, file: string, path: string): string {
  try {
    return fileKey(prefix, file);
  } catch (error) {
    if (!(error instanceof InvalidKeyPartError)) throw error;
    throw new ApiError(400, "invalid_request", error.message, [{ path, message: error.message }]);
  }
}

function contentTypeOf(name: string): string {
  if (name.endsWith(".csv")) return "text/csv; charset=utf-8";
  if (name.endsWith(".json")) return "application/json";
  if (name.endsWith(".txt") || name.endsWith(".log")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

function missingFinalModel(jobId: string): ApiError {
  return new ApiError(404, "not_found", `The files of job ${jobId}'s final model are not in storage.`);
}

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

async function findBest(db: Db, jobId: string, tenantId: string): Promise<Checkpoint> {
  const job = await findJob(db, jobId, tenantId);
  const best = await bestCheckpoint(db, jobId);
  if (best) return best;
  throw new ApiError(
    404,
    "no_checkpoint",
    `Job ${jobId} has no checkpoint yet (status ${job.status}). Checkpoints come from a ModelCheckpoint callback; ` +
      "the best one appears after its first save.",
  );
}

async function findCheckpoint(
  db: Db,
  jobId: string,
  checkpointId: string,
  tenantId: string,
): Promise<Checkpoint> {
  await findJob(db, jobId, tenantId);
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

/** Absolute, because tf.loadLayersModel needs a URL; never on the client's Host (see publicOrigin). */
function modelUrl(
  config: Pick<Config, "PUBLIC_URL" | "API_HOST" | "API_PORT">,
  request: FastifyRequest,
  { jobId, checkpointId }: Artifact,
): string {
  const path = checkpointId === FINAL_MODEL ? "model" : `checkpoints/${checkpointId}`;
  return `${publicOrigin(config, request)}/v1/jobs/${jobId}/${path}/${MODEL_JSON}`;
}
