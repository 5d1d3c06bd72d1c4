import { createHash, randomUUID } from "node:crypto";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { DatasetSchema, type FileFormat, Uuid } from "@plateau/contract";
import { createDataset, type Dataset, getDataset } from "@plateau/db";
import { datasetKey, deleteKeys, isValidName, uploadObject } from "@plateau/storage";
import { type ArrayInfo, ArrayReader, TableError, TableReader, type TableSummary } from "@plateau/tabular";
import Type from "typebox";
import { bodyCheckedByHandler } from "../app";
import { callerOf } from "../auth";
import { columnNames, type StoredArray } from "../dataset-fields";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef } from "../errors";
import { claim, IdempotencyHeaders, replay } from "../idempotency";

/** Each accepted Content-Type's format; null: from the file name (.npy or .npz). */
const FORMATS: Record<string, FileFormat | null> = {
  "text/csv": "csv",
  "application/x-ndjson": "jsonl",
  "application/jsonl": "jsonl",
  "application/x-npy": "npy",
  "application/x-npz": "npz",
  "application/zip": "npz",
  "application/octet-stream": null,
};

/**
 * Upload CSV / JSONL / .npy / .npz files into the service's S3, for jobs to reference as
 * {source: "dataset", id}.
 */
export const datasetRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, { db, storage, config }) => {
  const limit = config.MAX_UPLOAD_BYTES;
  // The body stays a stream: it goes to S3 as it arrives, never whole in memory.
  app.addContentTypeParser(Object.keys(FORMATS), (_request, payload, done) => done(null, payload));

  const view = (dataset: Dataset) => ({
    id: dataset.id,
    filename: dataset.filename,
    format: dataset.format as FileFormat,
    columns: columnNames(dataset),
    ...(dataset.format === "npy" || dataset.format === "npz"
      ? { arrays: dataset.columns as unknown as StoredArray[] }
      : {}),
    rows: dataset.rows,
    size_bytes: Number(dataset.sizeBytes),
    uri: `s3://${storage.bucket}/${dataset.key}`,
    created_at: dataset.createdAt.toISOString(),
  });

  app.post(
    "/v1/datasets",
    {
      schema: {
        tags: ["datasets"],
        summary: "Upload a CSV, JSONL, .npy or .npz file",
        description:
          `The raw file is the body, with Content-Type ${Object.keys(FORMATS).join(", ")}; at most ` +
          `${limit} bytes (MAX_UPLOAD_BYTES); application/octet-stream takes the format from the file name (.npy, .npz). ` +
          'A job then uses {"source": "dataset", "id": ..., "label": ...} (CSV/JSONL), {..., "y": {"source": "dataset", "id": <labels .npy>}} (.npy) or {..., "arrays": {"x": ..., "y": ...}} (.npz). ' +
          "An .npy/.npz is refused at upload when it holds object arrays (pickles), Fortran order, other dtypes than float/int/uint/bool, more than 6 dimensions, or an array over MAX_DATA_CELLS values.",
        consumes: Object.keys(FORMATS),
        body: Type.String({
          description:
            "The file's bytes: CSV with a header row, one JSON object per line, or NumPy's np.save / np.savez output.",
        }),
        querystring: Type.Object({
          filename: Type.String({ minLength: 1, maxLength: 128, description: "e.g. train.csv" }),
        }),
        headers: IdempotencyHeaders,
        response: {
          201: DatasetSchema,
          400: ErrorRef,
          409: ErrorRef,
          413: ErrorRef,
          415: ErrorRef,
          422: ErrorRef,
        },
      },
      // The body is a stream, checked as it streams.
      validatorCompiler: bodyCheckedByHandler,
    },
    async (request, reply) => {
      const { filename } = request.query;
      if (!isValidName(filename)) {
        const message =
          "use 1-128 letters, digits, '.', '_', '-', '=' or '+', starting with a letter or digit";
        throw new ApiError(400, "invalid_request", `Invalid filename: ${message}.`, [
          { path: "/querystring/filename", message },
        ]);
      }
      const declared = FORMATS[String(request.headers["content-type"]).split(";")[0].trim().toLowerCase()];
      const format = declared === null ? arrayFormatOf(filename) : declared;
      if (format === null) {
        const message = "with application/octet-stream, the file name must end in .npy or .npz";
        throw new ApiError(415, "unsupported_media_type", `The upload's format is unknown: ${message}.`, [
          { path: "/querystring/filename", message },
        ]);
      }
      if (format === undefined) {
        // JSON and text/plain have parsers of their own: their bodies arrive parsed, not as a stream.
        const message = `must be ${Object.keys(FORMATS).join(", ")}`;
        throw new ApiError(415, "unsupported_media_type", `The upload's Content-Type ${message}.`, [
          { path: "/headers/content-type", message },
        ]);
      }
      if (Number(request.headers["content-length"]) > limit) throw tooLarge(limit);

      const tenantId = callerOf(request).tenantId;
      const idempotencyKey = request.headers["idempotency-key"];
      // The request is the file name, format and bytes: its hash is known once the body has streamed.
      const digest = createHash("sha256").update(`${filename}\n${format}\n`);
      const scope = { tenantId, route: "POST /v1/datasets", key: idempotencyKey ?? "" };
      const held = idempotencyKey === undefined ? null : await claim(db, scope, null);
      if (held && !("complete" in held)) {
        await pipeline(request.body as unknown as Readable, limited(limit), async (chunks) => {
          for await (const chunk of chunks) digest.update(chunk as Buffer);
        });
        return replay(reply, scope.key, held, digest.digest("hex"));
      }

      const id = randomUUID();
      const key = datasetKey(id, filename);
      // The worker's own reader: a file it would refuse is refused here, before anything is kept.
      const reader =
        format === "npy" || format === "npz"
          ? new ArrayReader(format, {
              maxValues: config.MAX_DATA_CELLS,
              maxBytes: config.MAX_DATA_CELLS * 8 + 1_048_576,
            })
          : new TableReader(format);
      let size = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          if (size > limit) return callback(tooLarge(limit));
          digest.update(chunk);
          try {
            reader.write(chunk);
          } catch (error) {
            return callback(error as Error);
          }
          callback(null, chunk);
        },
      });
      // Errors of the tap surface through the upload, which reads from it.
      const piped = pipeline(request.body as unknown as Readable, tap).catch(() => {});
      let summary: TableSummary & { arrays?: ArrayInfo[] };
      try {
        await uploadObject(storage, key, tap, { contentType: request.headers["content-type"] });
        summary = reader.end();
      } catch (error) {
        await deleteKeys(storage, [key]).catch(() => {});
        await held?.release();
        if (error instanceof TableError) {
          throw new ApiError(400, "invalid_dataset", `${filename}: ${error.message}. Nothing was stored.`, [
            { path: "/body", message: error.message },
          ]);
        }
        throw error;
      } finally {
        await piped;
      }
      const requestHash = digest.digest("hex");
      const answer = await db
        .$transaction(async (tx) => {
          const dataset = await createDataset(tx, {
            id,
            tenantId,
            filename,
            format,
            key,
            sizeBytes: size,
            columns: summary.arrays ?? summary.columns,
            rows: summary.rows,
          });
          await held?.complete(tx, { requestHash, statusCode: 201, response: view(dataset) });
          return view(dataset);
        })
        .catch(async (error) => {
          await deleteKeys(storage, [key]).catch(() => {});
          await held?.release();
          throw error;
        });
      return reply.code(201).send(answer);
    },
  );

  app.get(
    "/v1/datasets/:id",
    {
      schema: {
        tags: ["datasets"],
        summary: "An uploaded dataset",
        params: Type.Object({ id: Uuid }),
        response: { 200: DatasetSchema, 400: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const dataset = await getDataset(db, request.params.id, callerOf(request).tenantId);
      if (!dataset) throw new ApiError(404, "not_found", `There is no dataset ${request.params.id}.`);
      return view(dataset);
    },
  );
};

/** .npy or .npz by the file name's extension, else null. */
function arrayFormatOf(filename: string): FileFormat | null {
  const ext = filename.toLowerCase().match(/\.(npy|npz)$/)?.[1];
  return (ext as FileFormat | undefined) ?? null;
}

/** Passes at most `limit` bytes on, then fails with 413. */
function limited(limit: number): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      callback(size > limit ? tooLarge(limit) : null, chunk);
    },
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, "payload_too_large", `The file is larger than ${limit} bytes (MAX_UPLOAD_BYTES).`);
}
