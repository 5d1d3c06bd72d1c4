import { createHash, randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { loadConfig } from "@plateau/config";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkpointPrefix,
  createStorage,
  deletePrefix,
  ensureBucket,
  getObjectBytes,
  getObjectText,
  jobPrefix,
  listKeys,
  ModelNotFoundError,
  presignGet,
  probeBucket,
  putObject,
  type Storage,
  s3LoadHandler,
  s3SaveHandler,
  saveModel,
  uploadObject,
} from "./index";

let storage: Storage;
const jobId = randomUUID();

beforeAll(async () => {
  storage = createStorage(loadConfig());
  await ensureBucket(storage);
});

afterAll(async () => {
  await deletePrefix(storage, jobPrefix(jobId));
  storage.client.destroy();
});

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("objects", () => {
  it("ensureBucket is idempotent and the bucket answers the readiness probe", async () => {
    await ensureBucket(storage);
    await expect(probeBucket(storage)).resolves.toBeUndefined();
  });

  it("round-trips a put and a get, and reports a missing key as undefined", async () => {
    const key = `${jobPrefix(jobId)}resume/state.json`;
    await putObject(storage, key, JSON.stringify({ epoch: 3 }), { contentType: "application/json" });
    expect(JSON.parse((await getObjectText(storage, key))!)).toEqual({ epoch: 3 });
    expect(await getObjectBytes(storage, `${jobPrefix(jobId)}resume/absent.json`)).toBeUndefined();
  });

  it("uploads a 21 MB stream as a multipart upload, reporting progress part by part", async () => {
    const body = randomBytes(21 * 1024 * 1024);
    // A stream of unknown length, as a request body is: lib-storage must cut it into parts itself.
    const chunks = Array.from({ length: 21 }, (_, i) =>
      body.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024),
    );
    const progress: number[] = [];
    const key = `${jobPrefix(jobId)}resume/big.bin`;
    await uploadObject(storage, key, Readable.from(chunks), {
      onProgress: (loaded) => progress.push(loaded),
    });

    expect(progress.length).toBeGreaterThanOrEqual(5); // five 5 MiB parts: 4 full ones and the rest
    expect(Math.max(...progress)).toBe(body.length);
    const stored = await getObjectBytes(storage, key);
    expect(stored!.length).toBe(body.length);
    expect(sha256(stored!)).toBe(sha256(body));
  });

  it("presigns a GET that plain fetch can download", async () => {
    const key = `${jobPrefix(jobId)}resume/presigned.txt`;
    await putObject(storage, key, "hello from plateau", { contentType: "text/plain" });
    const { url, expiresAt } = await presignGet(storage, key, 60);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 55_000);
    expect(url).toContain("X-Amz-Signature=");
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("hello from plateau");
  });

  it("deletes every object under a prefix and nothing beside it", async () => {
    const otherJob = randomUUID();
    await Promise.all([
      putObject(storage, `${jobPrefix(otherJob)}resume/a`, "a"),
      putObject(storage, `${jobPrefix(otherJob)}checkpoints/best/model.json`, "{}"),
      putObject(storage, `${jobPrefix(jobId)}resume/keep`, "keep"),
    ]);
    expect(await deletePrefix(storage, jobPrefix(otherJob))).toBe(2);
    expect(await listKeys(storage, jobPrefix(otherJob))).toEqual([]);
    expect(await getObjectText(storage, `${jobPrefix(jobId)}resume/keep`)).toBe("keep");
  });
});

describe("tfjs model artifacts", () => {
  function tinyModel() {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 8, activation: "relu", inputShape: [4] }),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: "sparseCategoricalCrossentropy" });
    return model;
  }
  const input = tf.tensor2d([
    [5.1, 3.5, 1.4, 0.2],
    [6.7, 3.0, 5.2, 2.3],
  ]);
  const predict = (model: tf.LayersModel) => Array.from((model.predict(input) as tf.Tensor).dataSync());

  it("saves model.json with relative shard names and loads a model giving identical predictions", async () => {
    const model = tinyModel();
    const prefix = checkpointPrefix(jobId, "best");
    const result = await saveModel(storage, prefix, model);

    const manifest = JSON.parse((await getObjectText(storage, `${prefix}model.json`))!);
    const paths: string[] = manifest.weightsManifest.flatMap((group: { paths: string[] }) => group.paths);
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect(path).toMatch(/^[^/]+\.bin$/);

    const sizes = await Promise.all(
      result.keys.map(async (Key) => {
        const head = await storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key }));
        return head.ContentLength!;
      }),
    );
    expect(result.sizeBytes).toBe(sizes.reduce((a, b) => a + b, 0));

    const loaded = await tf.loadLayersModel(s3LoadHandler(storage, prefix));
    expect(predict(loaded)).toEqual(predict(model));
  });

  it("splits weights larger than one shard across several and reassembles them", async () => {
    // 4 x 300_000 weights of float32 = 4.8 MB: two 4 MiB shards.
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 300_000, inputShape: [4] }), tf.layers.dense({ units: 1 })],
    });
    const prefix = checkpointPrefix(jobId, "wide");
    const result = await saveModel(storage, prefix, model);
    const manifest = JSON.parse((await getObjectText(storage, `${prefix}model.json`))!);
    expect(manifest.weightsManifest[0].paths).toHaveLength(2);
    expect(result.keys).toHaveLength(3);

    const loaded = await tf.loadLayersModel(s3LoadHandler(storage, prefix));
    expect(predict(loaded)).toEqual(predict(model));
  });

  it("overwriting a checkpoint leaves only the new save's shards", async () => {
    const prefix = checkpointPrefix(jobId, "latest");
    const first = tinyModel();
    await saveModel(storage, prefix, first);
    const second = tinyModel();
    const result = await saveModel(storage, prefix, second);

    expect((await listKeys(storage, prefix)).sort()).toEqual([...result.keys].sort());
    const loaded = await tf.loadLayersModel(s3LoadHandler(storage, prefix));
    expect(predict(loaded)).toEqual(predict(second));
    expect(predict(loaded)).not.toEqual(predict(first));
  });

  it("a weights-only save stores no topology and loads with the job's topology supplied", async () => {
    const model = tinyModel();
    const prefix = checkpointPrefix(jobId, "weights.01-0.50");
    await model.save(s3SaveHandler(storage, prefix, { weightsOnly: true }));
    const manifest = JSON.parse((await getObjectText(storage, `${prefix}model.json`))!);
    expect(manifest.modelTopology).toBeUndefined();

    await expect(tf.loadLayersModel(s3LoadHandler(storage, prefix))).rejects.toThrow();
    const loaded = await tf.loadLayersModel(
      s3LoadHandler(storage, prefix, { modelTopology: model.toJSON(null, false) as object }),
    );
    expect(predict(loaded)).toEqual(predict(model));
  });

  it("loading where nothing was saved fails with ModelNotFoundError", async () => {
    await expect(
      tf.loadLayersModel(s3LoadHandler(storage, checkpointPrefix(jobId, "never-saved"))),
    ).rejects.toBeInstanceOf(ModelNotFoundError);
  });
});
