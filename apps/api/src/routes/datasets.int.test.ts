import { loadConfig } from "@plateau/config";
import { getObjectText, listKeys } from "@plateau/storage";
import { zipSync } from "fflate";
import { dump } from "npyjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../test-api";

const base = loadConfig();
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ REDIS_PREFIX: `${base.REDIS_PREFIX}-api-datasets`, MAX_UPLOAD_BYTES: 4096 });
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
});

const upload = (filename: string, contentType: string, payload: string | Buffer) =>
  api.inject({
    method: "POST",
    url: "/v1/datasets",
    query: { filename },
    headers: { "content-type": contentType },
    payload,
  });

const csv = 'a,"b, quoted",label\n1,2,x\n3,"4\n5",y\r\n\n6,7,x\n';

describe("datasets", () => {
  it("stores a CSV upload in S3 with its columns and rows, and jobs can reference it", async () => {
    const response = await upload("train.csv", "text/csv", csv);
    expect(response.statusCode).toBe(201);
    const dataset = response.json();
    expect(dataset).toMatchObject({
      filename: "train.csv",
      format: "csv",
      columns: ["a", "b, quoted", "label"],
      rows: 3,
      size_bytes: Buffer.byteLength(csv),
    });
    expect(dataset.uri).toBe(`s3://${api.deps.storage.bucket}/datasets/${dataset.id}/train.csv`);
    expect(await getObjectText(api.deps.storage, `datasets/${dataset.id}/train.csv`)).toBe(csv);
    expect((await api.inject({ url: `/v1/datasets/${dataset.id}` })).json()).toEqual(dataset);

    const spec = {
      name: "from-dataset",
      model: {
        layers: [{ class_name: "Dense", config: { units: 2, activation: "softmax", input_shape: [2] } }],
      },
      compile: { optimizer: "adam", loss: "sparse_categorical_crossentropy" },
      data: { source: "dataset", id: dataset.id, label: "label", features: ["a", "c"] },
      fit: { epochs: 1 },
    };
    const bad = await api.inject({ method: "POST", url: "/v1/jobs", payload: spec });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details).toEqual([
      { path: "/data/features/1", message: expect.stringContaining("columns are: a, b, quoted, label") },
    ]);
    spec.data.features = ["a", "b, quoted"];
    expect((await api.inject({ method: "POST", url: "/v1/jobs", payload: spec })).statusCode).toBe(201);
  });

  it("reads JSONL columns as the union of the rows' keys", async () => {
    const response = await upload(
      "rows.jsonl",
      "application/x-ndjson",
      '{"x": 1, "y": 0}\n{"x": 2, "z": 1, "y": 1}\n',
    );
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ format: "jsonl", columns: ["x", "y", "z"], rows: 2 });
  });

  it("refuses a CSV the worker could not read, naming the line, and keeps nothing", async () => {
    const keysBefore = await listKeys(api.deps.storage, "datasets/");
    const response = await upload("ragged.csv", "text/csv", "a,b,label\n1,2,x\n3,y\n");
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: "invalid_dataset",
      message: "ragged.csv: line 3 has 2 cells but the header names 3 columns. Nothing was stored.",
      details: [{ path: "/body", message: "line 3 has 2 cells but the header names 3 columns" }],
    });
    expect(await api.deps.db.dataset.count({ where: { filename: "ragged.csv" } })).toBe(0);
    expect(await listKeys(api.deps.storage, "datasets/")).toEqual(keysBefore);
  });

  it("rejects oversized, malformed, unnamed and untyped uploads, storing nothing", async () => {
    const before = (await listKeys(api.deps.storage, "datasets/")).length;
    const large = await upload("big.csv", "text/csv", `a,b\n${"1,2\n".repeat(2000)}`);
    expect(large.statusCode).toBe(413);
    expect(large.json()).toMatchObject({ error: "payload_too_large" });
    const broken = await upload("bad.jsonl", "application/jsonl", '{"x": 1}\n{"x": \n');
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({
      error: "invalid_dataset",
      message: expect.stringContaining("line 2 is not valid JSON"),
    });
    const headerOnly = await upload("empty.csv", "text/csv", "a,b\n");
    expect(headerOnly.json().message).toContain("no data rows");
    const badName = await upload("../x.csv", "text/csv", csv);
    expect(badName.json().details).toEqual([{ path: "/querystring/filename", message: expect.any(String) }]);
    const untyped = await upload("x.csv", "application/pdf", csv);
    expect(untyped.statusCode).toBe(415);
    expect((await listKeys(api.deps.storage, "datasets/")).length).toBe(before);
  });

  it("stores .npy and .npz uploads with each array's dtype and shape, and refuses pickles and Fortran order", async () => {
    const x = Buffer.from(dump(new Float32Array(12), [3, 2, 2]));
    const npy = await upload("images.npy", "application/octet-stream", x);
    expect(npy.statusCode).toBe(201);
    expect(npy.json()).toMatchObject({
      format: "npy",
      columns: ["array"],
      rows: 3,
      arrays: [{ name: "array", dtype: "float32", shape: [3, 2, 2] }],
      size_bytes: x.length,
    });
    const y = Buffer.from(dump(new Uint8Array([0, 1, 1]), [3]));
    const npz = await upload(
      "train.npz",
      "application/zip",
      Buffer.from(zipSync({ "x.npy": x, "y.npy": y })),
    );
    expect(npz.statusCode).toBe(201);
    expect(npz.json()).toMatchObject({
      format: "npz",
      columns: ["x", "y"],
      arrays: [
        { name: "x", dtype: "float32", shape: [3, 2, 2] },
        { name: "y", dtype: "uint8", shape: [3] },
      ],
    });
    // A job names the .npz's arrays; one it does not hold is a 400 at the field.
    const spec = {
      name: "npz",
      model: { layers: [{ class_name: "Flatten", config: { input_shape: [2, 2] } }] },
      compile: { optimizer: "adam", loss: "mse" },
      data: { source: "dataset", id: npz.json().id, arrays: { x: "x", y: "labels" } },
      fit: { epochs: 1 },
    };
    const job = await api.inject({ method: "POST", url: "/v1/jobs", payload: spec });
    expect(job.statusCode).toBe(400);
    expect(job.json().details).toEqual([
      { path: "/data/arrays/y", message: "array 'labels' is not in dataset train.npz; its arrays are: x, y" },
    ]);

    const before = (await listKeys(api.deps.storage, "datasets/")).length;
    const text = new TextDecoder("latin1");
    const swapped = (from: string, to: string) =>
      Buffer.from(text.decode(x).replace(from, to.padEnd(from.length)), "latin1");
    const pickle = await upload("objects.npy", "application/octet-stream", swapped("'<f4'", "'|O'"));
    expect(pickle.statusCode).toBe(400);
    expect(pickle.json().message).toMatch(
      /^objects.npy: the .npy is an object array \(a Python pickle\): refused/,
    );
    const fortran = await upload("f.npy", "application/x-npy", swapped("False", "True"));
    expect(fortran.json().details[0].message).toMatch(/Fortran order/);
    const unnamed = await upload("data.bin", "application/octet-stream", x);
    expect(unnamed.statusCode).toBe(415);
    expect((await listKeys(api.deps.storage, "datasets/")).length).toBe(before);
  });
});
