import { randomUUID } from "node:crypto";
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
) {
  const saved = await saveModel(api.deps.storage, checkpointPrefix(jobId, name), model, {
    weightsOnly: options.weightsOnly,
  });
  if (options.weightsOnly) {
    await putObject(api.deps.storage, topologyKey(jobId), JSON.stringify(model.toJSON(null, false)));
  }
  return recordCheckpoint(api.deps.db, {
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

  it("redirects weight files to presigned S3 URLs and refuses names outside the checkpoint", async () => {
    const job = await createJob(api.deps.db, { tenantId: api.tenant.id, name: "ckpt", spec: {}, epochs: 1 });
    const row = await saveCheckpoint(job.id, "last", tinyModel(), {
      weightsOnly: false,
      epoch: 0,
      value: 1,
      isBest: true,
    });
    const manifest = await (
      await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/model.json`, {
        headers: api.tenant.headers,
      })
    ).json();
    const [shard] = manifest.weightsManifest[0].paths;
    expect(shard).not.toContain("/");
    const redirect = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/${shard}`, {
      redirect: "manual",
      headers: api.tenant.headers,
    });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get("location")!;
    expect(location).toContain("X-Amz-Signature");
    expect((await (await fetch(location)).arrayBuffer()).byteLength).toBe(
      5 * 3 * 4 + 5 * 4 + 5 * 2 * 4 + 2 * 4,
    );

    const outside = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${row.id}/..%2Fother.bin`, {
      redirect: "manual",
      headers: api.tenant.headers,
    });
    expect(outside.status).toBe(400);
    const unknown = await fetch(`${api.url}/v1/jobs/${job.id}/checkpoints/${randomUUID()}/model.json`, {
      headers: api.tenant.headers,
    });
    expect(unknown.status).toBe(404);
  });
});
