import { randomUUID } from "node:crypto";
import { get } from "node:http";
import { createJob, recordCheckpoint } from "@plateau/db";
import { checkpointPrefix, putObject, saveModel, topologyKey } from "@plateau/storage";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

let api: TestApi;
beforeAll(async () => {
  await tf.setBackend("cpu");
  api = await startTestApi();
});
afterAll(() => api.close());

function tinyModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 5, activation: "relu", inputShape: [3] }),
      tf.layers.dense({ units: 2 }),
    ],
  });
  model.compile({ optimizer: "adam", loss: "meanSquaredError" });
  return model;
}

/** What the worker's ArtifactSink does for one ModelCheckpoint save. */
async function saveCheckpoint(
  jobId: string,
  name: string,
  model: tf.LayersModel,
  options: { weightsOnly: boolean; epoch: number; value: number; isBest: boolean },
  target: TestApi = api,
) {
  const saved = await saveModel(target.deps.storage, checkpointPrefix(jobId, name), model, {
    weightsOnly: options.weightsOnly,
  });
  if (options.weightsOnly) {
    await putObject(target.deps.storage, topologyKey(jobId), JSON.stringify(model.toJSON(null, false)));
  }
  return recordCheckpoint(target.deps.db, {
    jobId,
    name,
    epoch: options.epoch,
    monitor: "val_loss",
    value: options.value,
    isBest: options.isBest,
    weightsOnly: options.weightsOnly,
    sizeBytes: saved.sizeBytes,
  });
}

const input = tf.tensor2d([
  [0.1, -0.4, 2],
  [1, 1, 1],
]);
const predict = (model: tf.LayersModel) => (model.predict(input) as tf.Tensor).arraySync();

/** Bytes of tinyModel's one weight file: two kernels and two biases of float32. */
const SHARD_BYTES = 5 * 3 * 4 + 5 * 4 + 5 * 2 * 4 + 2 * 4;

/** A job of `target`'s tenant with one (best) checkpoint, and the name of its weight file. */
async function savedShard(target: TestApi) {
  const job = await createJob(target.deps.db, {
    tenantId: target.tenant.id,
    name: "ckpt",
    spec: {},
    epochs: 1,
  });
  const options = { weightsOnly: false, epoch: 0, value: 1, isBest: true };
  const row = await saveCheckpoint(job.id, "last", tinyModel(), options, target);
  const manifest = await (
    await fetch(`${target.url}/v1/jobs/${job.id}/checkpoints/${row.id}/model.json`, {
      headers: target.tenant.headers,
    })
  ).json();
  const [shard] = manifest.weightsManifest[0].paths as string[];
  expect(shard).not.toContain("/");
  return { job, row, shard };
}

/** A GET with headers fetch would not send as given (Host). */
function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string; location?: string }>((resolve, reject) => {
    get(url, { headers }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, body, location: response.headers.location }),
      );
    }).on("error", reject);
  });
}

describe("checkpoints", () => {
  it.each([
    ["full model", false],
    ["weights-only (served with the job's topology)", true],
  ])(
    "best model_url of a %s loads with tf.loadLayersModel and predicts like the saved model",
    async (_, weightsOnly) => {
      const job = await createJob(api.deps.db, {
        tenantId: api.tenant.id,
        name: "ckpt",
        spec: {},
        epochs: 3,
      });
      const none = await api.inject({ url: `/v1/jobs/${job.id}/checkpoints/best` });
      expect(none.statusCode).toBe(404);
      expect(none.json()).toMatchObject({
        error: "no_checkpoint",
        message: expect.stringContaining("no checkpoint yet"),
      });

      const older = tinyModel();
      await saveCheckpoint(job.id, "epoch-0001", older, { weightsOnly, epoch: 0, value: 0.9, isBest: true });
      const model = tinyModel();
      const best = await saveCheckpoint(job.id, "epoch-0002", model, {
        weightsOnly,
        epoch: 1,
        value: 0.5,
        isBest: true,
      });

      const listed = (await api.inject({ url: `/v1/jobs/${job.id}/checkpoints` })).json();
      expect(listed.items.map((c: { name: string; is_best: boolean }) => [c.name, c.is_best])).toEqual([
        ["epoch-0001", false],
        ["epoch-0002", true],
      ]);
      expect(listed.items[1]).toMatchObject({
        id: best.id,
        epoch: 1,
        monitor: "val_loss",
        value: 0.5,
        weights_only: weightsOnly,
        batch: null,
      });
      expect(listed.items[1].size_bytes).toBeGreaterThan(0);

      const response = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/best`, {
        headers: api.tenant.headers,
      });
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body).toMatchObject({ id: best.id, epoch: 1, monitor: "val_loss", value: 0.5 });
      // Loadable without headers: the URL carries a token signed for this checkpoint (the shards inherit it).
      expect(body.model_url).toMatch(
        new RegExp(
          `^${api.url}/v1/jobs/${job.id}/checkpoints/${best.id}/model\\.json\\?token=\\d+\\.[\\w-]{43}$`,
        ),
      );
      expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now());

      const loaded = await tf.loadLayersModel(body.model_url);
      expect(predict(loaded)).toEqual(predict(model));
      expect(predict(loaded)).not.toEqual(predict(older));

      // The best alias redirects to the specific checkpoint, and loads the same.
      const alias = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/best/model.json`, {
        redirect: "manual",
        headers: api.tenant.headers,
      });
      expect(alias.status).toBe(302);
      expect(alias.headers.get("location")?.split("?")[0]).toBe(body.model_url.split("?")[0]);
      expect(
        predict(
          await tf.loadLayersModel(`${api.url}/v1/jobs/${job.id}/checkpoints/best/model.json`, {
            requestInit: { headers: api.tenant.headers },
          }),
        ),
      ).toEqual(predict(model));
    },
  );

  it("serves weight files itself when S3_PUBLIC_ENDPOINT is not set, and refuses names outside the checkpoint", async () => {
    const { job, row, shard } = await savedShard(api);
    const response = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/${shard}`, {
      redirect: "manual",
      headers: api.tenant.headers,
    });
    // A presigned URL would name the private S3 endpoint and the access key id.
    expect(response.status).toBe(200);
    expect(response.headers.get("location")).toBeNull();
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect((await response.arrayBuffer()).byteLength).toBe(SHARD_BYTES);

    const outside = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/..%2Fother.bin`, {
      redirect: "manual",
      headers: api.tenant.headers,
    });
    expect(outside.status).toBe(400);
    const missing = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/other.bin`, {
      headers: api.tenant.headers,
    });
    expect(missing.status).toBe(404);
    const unknown = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${randomUUID()}/model.json`, {
      headers: api.tenant.headers,
    });
    expect(unknown.status).toBe(404);
  });

  it("redirects weight files to presigned URLs on S3_PUBLIC_ENDPOINT when it is set", async () => {
    const publicEndpoint = api.deps.config.S3_ENDPOINT.replace("127.0.0.1", "localhost");
    const behindProxy = await startTestApi({ S3_PUBLIC_ENDPOINT: publicEndpoint });
    try {
      const { job, row, shard } = await savedShard(behindProxy);
      const redirect = await fetch(`${behindProxy.url}/v1/jobs/${job.id}/checkpoints/${row.id}/${shard}`, {
        redirect: "manual",
        headers: behindProxy.tenant.headers,
      });
      expect(redirect.status).toBe(302);
      const location = redirect.headers.get("location")!;
      expect(location.startsWith(`${publicEndpoint}/`)).toBe(true);
      expect(location).toContain("X-Amz-Signature");
      expect((await (await fetch(location)).arrayBuffer()).byteLength).toBe(SHARD_BYTES);
    } finally {
      await behindProxy.close();
    }
  });

  it("builds model URLs on PUBLIC_URL or the address the API was reached at, never on the client's Host", async () => {
    const { job, row } = await savedShard(api);
    const evil = { host: "evil.example.com", "x-forwarded-host": "evil.example.com", ...api.tenant.headers };
    const best = await rawGet(`${api.url}/v1/jobs/${job.id}/checkpoints/best`, evil);
    expect(best.status).toBe(200);
    expect(JSON.parse(best.body).model_url).toMatch(
      new RegExp(`^${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/model\\.json\\?token=`),
    );
    const alias = await rawGet(`${api.url}/v1/jobs/${job.id}/checkpoints/best/model.json`, evil);
    expect(alias.status).toBe(302);
    expect(alias.location).toMatch(
      new RegExp(`^${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/model\\.json`),
    );

    const published = await startTestApi({ PUBLIC_URL: "https://models.example.org/" });
    try {
      const other = await savedShard(published);
      const answer = await rawGet(`${published.url}/v1/jobs/${other.job.id}/checkpoints/best`, {
        ...evil,
        ...published.tenant.headers,
      });
      expect(JSON.parse(answer.body).model_url).toMatch(
        new RegExp(
          `^https://models\\.example\\.org/v1/jobs/${other.job.id}/checkpoints/${other.row.id}/model\\.json\\?`,
        ),
      );
    } finally {
      await published.close();
    }
  });
});
