import type { CompileSpec, DataSpec, FitSpec, JobSpec, ModelSpec } from "@plateau/contract";
import { buildModel, compileModel, fitArgs, loadData, selectBackend, type Tf } from "@plateau/training";
import { dump } from "npyjs";
import pRetry from "p-retry";
import { median, ms, progress, type Row } from "./report";
import type { Stack } from "./stack";

// Even, so each side goes first equally often. One epoch a run: on 2 busy cores a round takes minutes.
const ROUNDS = 2;
const SAMPLES = 1000;
const EPOCHS = 1;

/** 1,000 seeded 28×28×1 images in 10 classes (a bright row per class), as .npy files a Keras user saves. */
function images(): { x: Uint8Array<ArrayBuffer>; y: Uint8Array<ArrayBuffer> } {
  const pixels = new Float32Array(SAMPLES * 784);
  const labels = new Int32Array(SAMPLES);
  let state = 7;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  for (let i = 0; i < SAMPLES; i++) {
    labels[i] = i % 10;
    for (let p = 0; p < 784; p++) {
      const row = Math.floor(p / 28);
      pixels[i * 784 + p] = (row === labels[i] * 2 + 4 ? 0.9 : 0) + random() * 0.2;
    }
  }
  return {
    x: new Uint8Array(dump(pixels, [SAMPLES, 28, 28, 1])),
    y: new Uint8Array(dump(labels, [SAMPLES])),
  };
}

/** The Keras guide's small MNIST convnet, shrunk to one convolution so a run takes seconds a round. */
function cnnSpec(xId: string, yId: string): JobSpec {
  return {
    name: "bench-cnn",
    model: {
      layers: [
        {
          class_name: "Conv2D",
          config: { filters: 8, kernel_size: 3, activation: "relu", input_shape: [28, 28, 1] },
        },
        { class_name: "MaxPooling2D", config: { pool_size: 2 } },
        { class_name: "Flatten", config: {} },
        { class_name: "Dense", config: { units: 10, activation: "softmax" } },
      ],
    },
    compile: { optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"] },
    data: { source: "dataset", id: xId, format: "npy", y: { source: "dataset", id: yId } },
    fit: { epochs: EPOCHS, batch_size: 32, shuffle: true },
  } as unknown as JobSpec;
}

/** tfjs's own `model.fit` of the same model on the same data, in this process; only fit() is timed. */
async function bareFit(tf: Tf, spec: JobSpec, files: { x: Uint8Array; y: Uint8Array }): Promise<number> {
  const model = await buildModel(tf, spec.model as ModelSpec);
  compileModel(tf, model, spec.compile as CompileSpec);
  const data = loadData(tf, spec.data as DataSpec, { data: files.x, labels: files.y });
  const start = performance.now();
  await model.fit(data.train.x, data.train.y, fitArgs(spec.fit as FitSpec));
  const fitMs = performance.now() - start;
  model.optimizer.dispose();
  model.dispose();
  tf.dispose([data.train.x, data.train.y]);
  return fitMs;
}

/** The job through the API, the queue and a worker process: its row's started_at → finished_at. */
async function throughService(stack: Stack, spec: JobSpec): Promise<number> {
  const { id } = await pRetry(() => stack.client.submitJob(spec), {
    retries: 4,
    // A loaded machine can time a Redis command out (a 503 asking to retry); nothing else is retried.
    shouldRetry: ({ error }) => (error as { status?: number }).status === 503,
  });
  for await (const event of stack.client.streamEvents(id)) if (event.type === "done") break;
  const job = await stack.client.getJob(id);
  if (job.status !== "succeeded")
    throw new Error(`job ${id} ended ${job.status}: ${job.error ?? "no error"}`);
  return Date.parse(job.finished_at!) - Date.parse(job.started_at!);
}

/**
 * Samples a second for a 28×28×1 CNN on 1,000 images on the default backend: through the service (the
 * job's whole training time, loading its .npy files from S3 included) against tfjs's bare `model.fit`.
 */
export async function cnn(stack: Stack): Promise<Row[]> {
  const { tf, name: backend } = await selectBackend("auto");
  const files = images();
  const x = await stack.client.uploadDataset(new Blob([files.x]), { filename: "x.npy" });
  const y = await stack.client.uploadDataset(new Blob([files.y]), { filename: "y.npy" });
  const spec = cnnSpec(x.id, y.id);
  const worker = await stack.startWorker();
  try {
    progress(`warming up both sides on ${backend} (one epoch)`);
    const warm = { ...spec, fit: { ...spec.fit, epochs: 1 } };
    await bareFit(tf, warm, files);
    await throughService(stack, warm);
    const bare: number[] = [];
    const service: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const runBare = async () => bare.push(await bareFit(tf, spec, files));
      const runService = async () => service.push(await throughService(stack, spec));
      for (const step of round % 2 === 0 ? [runBare, runService] : [runService, runBare]) await step();
      progress(`round ${round + 1}/${ROUNDS}: bare ${ms(bare.at(-1)!)}, service ${ms(service.at(-1)!)}`);
    }
    const rate = (milliseconds: number) => (SAMPLES * EPOCHS) / (milliseconds / 1000);
    return [
      {
        benchmark: "cnn",
        measure: `28×28×1 CNN, ${SAMPLES} images × ${EPOCHS} epochs on ${backend}: samples/s, median of ${ROUNDS}`,
        plateau: `${rate(median(service)).toPrecision(3)}/s`,
        baseline: `${rate(median(bare)).toPrecision(3)}/s`,
        ratio: median(service) / median(bare),
      },
    ];
  } finally {
    await worker.stop();
  }
}
