// biome-ignore-all lint/suspicious/noThenProperty: `then` is the Rule spec's documented field; these objects are request bodies, never awaited.
/**
 * Property-based fuzzing of every route the app registers: hostile path parameters, query strings,
 * headers and bodies (job specs and simulations mutated from the examples, raw text, wrong content types)
 * must never get a 5xx; a 4xx must be in the error shape; a rejected job submission stores and queues
 * nothing. Routes are read from the app's route table, so a new route is fuzzed without touching this file.
 *
 * Reproduce a failure with the seed it prints: `FUZZ_SEED=<seed> npx vitest run apps/api/src/fuzz.int.test.ts`.
 * `FUZZ_SCALE=10` runs ten times as many cases per route.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { loadConfig } from "@plateau/config";
import { appendEvents, createJob, finishJob, markRunning, recordCheckpoint } from "@plateau/db";
import { checkpointPrefix, saveModel } from "@plateau/storage";
import * as tf from "@tensorflow/tfjs";
import fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import { type AuthRule, routesOf } from "./auth";
import { startTestApi } from "./test-api";

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
console.log(`fuzz: FUZZ_SEED=${SEED} (set it to replay this run)`);

/** Cases per route; POST bodies are where the depth is, GETs mostly differ by parameters. */
function runsFor(route: Route): number {
  const base =
    route.key === "POST /v1/jobs"
      ? 900
      : route.key === "POST /v1/callbacks/simulate"
        ? 450
        : route.method === "HEAD"
          ? 40
          : route.method === "GET"
            ? 150
            : 200;
  return Math.max(1, Math.round(base * SCALE));
}

const ADMIN_KEY = `fuzz-admin-${randomUUID()}`;
const base = loadConfig();
const api = await startTestApi({
  REDIS_PREFIX: `${base.REDIS_PREFIX}-api-fuzz`,
  ADMIN_API_KEY: ADMIN_KEY,
  MAX_EPOCHS: 50,
  MAX_PARAMS: 5000,
  MAX_INLINE_BYTES: 64 * 1024,
  MAX_UPLOAD_BYTES: 64 * 1024,
  // Thousands of requests a minute from one key, and every accepted job stays queued.
  RATE_LIMIT_PER_MINUTE: 1_000_000,
  MAX_ACTIVE_JOBS_PER_TENANT: 1_000_000,
});
afterAll(async () => {
  await api.deps.queue.obliterate({ force: true });
  await api.close();
  for (const [route, statuses] of tally) console.log(`fuzz: ${route}: ${JSON.stringify(statuses)}`);
});

interface Route {
  method: string;
  url: string;
  key: string;
  auth: AuthRule;
}

/**
 * Every request of the fuzzer goes through here: the one place that says who is calling. Admin routes
 * get the admin key, every other route the test tenant's key; a case may override `authorization`.
 */
function send(route: Pick<Route, "auth">, request: InjectOptions): Promise<LightMyRequestResponse> {
  const auth = route.auth === "admin" ? { authorization: `Bearer ${ADMIN_KEY}` } : api.tenant.headers;
  return api.app.inject({ ...request, headers: { ...auth, ...request.headers } });
}

// ---------------------------------------------------------------------------------------------------
// The routes, from the app's own route table (its onRoute hook), each GET with the HEAD Fastify adds.

function appRoutes(): Route[] {
  return routesOf(api.app).flatMap(({ method, url, auth }) =>
    (method === "GET" ? ["GET", "HEAD"] : [method]).map((m) => ({
      method: m,
      url,
      auth,
      key: `${m} ${url}`,
    })),
  );
}

const routes = appRoutes();

/** Query parameter names of each route, from the OpenAPI document the route schemas make. */
function documentedQueries(): Map<string, string[]> {
  const document = api.app.swagger() as {
    paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>;
  };
  const names = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const query = (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      names.set(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`, query);
    }
  }
  return names;
}
const queryNames = documentedQueries();
const allQueryNames = [...new Set([...queryNames.values()].flat())];

// ---------------------------------------------------------------------------------------------------
// A tenant's world for the parameters to hit: finished jobs with events and a checkpoint, a queued job,
// a dataset; plus cursors and seqs real clients would pass.

async function seedWorld() {
  const db = api.deps.db;
  const tenantId = api.tenant.id;
  const spec = JSON.parse(
    readFileSync(new URL("../../../examples/iris-plateau.json", import.meta.url), "utf8"),
  );
  const finished = await createJob(db, { tenantId, name: "fuzz-finished", spec, epochs: 3 });
  await markRunning(db, finished.id, { backend: "cpu", worker: "fuzz" });
  const time = new Date();
  await appendEvents(db, [
    { jobId: finished.id, seq: 1, type: "status", data: { status: "queued" }, createdAt: time },
    { jobId: finished.id, seq: 2, type: "status", data: { status: "running" }, createdAt: time },
    ...[0, 1, 2].map((epoch) => ({
      jobId: finished.id,
      seq: 3 + epoch,
      type: "epoch_end" as const,
      epoch,
      data: { logs: { loss: 1 / (epoch + 1), val_loss: 1, learning_rate: 0.01 } },
      createdAt: time,
    })),
    {
      jobId: finished.id,
      seq: 6,
      type: "batch_end",
      epoch: 2,
      batch: 3,
      data: { logs: { loss: 0.3 } },
      createdAt: time,
    },
    {
      jobId: finished.id,
      seq: 7,
      type: "status",
      data: { status: "succeeded", stop_reason: "completed" },
      createdAt: time,
    },
  ]);
  await finishJob(db, finished.id, { stopReason: "completed", epoch: 2 });

  await tf.setBackend("cpu");
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  const saved = await saveModel(api.deps.storage, checkpointPrefix(finished.id, "epoch-0003"), model);
  const checkpoint = await recordCheckpoint(db, {
    jobId: finished.id,
    name: "epoch-0003",
    epoch: 2,
    monitor: "val_loss",
    value: 1,
    isBest: true,
    weightsOnly: false,
    sizeBytes: saved.sizeBytes,
  });

  const cancelled = await createJob(db, { tenantId, name: "fuzz-cancelled", spec, epochs: 3 });
  await appendEvents(db, [
    { jobId: cancelled.id, seq: 1, type: "status", data: { status: "queued" } },
    {
      jobId: cancelled.id,
      seq: 2,
      type: "status",
      data: { status: "cancelled", stop_reason: "user_cancel" },
    },
  ]);
  await finishJob(db, cancelled.id, { stopReason: "user_cancel" });

  const queued = await createJob(db, { tenantId, name: "fuzz-queued", spec, epochs: 3 });
  await appendEvents(db, [{ jobId: queued.id, seq: 1, type: "status", data: { status: "queued" } }]);

  const upload = await send(
    { auth: "key" },
    {
      method: "POST",
      url: "/v1/datasets?filename=fuzz.csv",
      headers: { "content-type": "text/csv" },
      payload: "a,b,label\n1,2,x\n3,4,y\n",
    },
  );
  expect(upload.statusCode).toBe(201);

  const manifest = await send(
    { auth: "key" },
    { method: "GET", url: `/v1/jobs/${finished.id}/checkpoints/${checkpoint.id}/model.json` },
  );
  expect(manifest.statusCode).toBe(200);

  const page = await send({ auth: "key" }, { method: "GET", url: "/v1/jobs?limit=1" });
  expect(page.statusCode).toBe(200);
  return {
    finished: finished.id,
    cancelled: cancelled.id,
    queued: queued.id,
    checkpoint: checkpoint.id,
    dataset: upload.json().id as string,
    cursor: page.json().next_cursor as string,
    shard: manifest.json().weightsManifest[0].paths[0] as string,
  };
}

const world = await seedWorld();

// ---------------------------------------------------------------------------------------------------
// Hostile values.

const hostileNumbers = [
  "0",
  "-0",
  "-1",
  "1.5",
  "1e2",
  "1e309",
  "-1e309",
  "Infinity",
  "-Infinity",
  "NaN",
  "0x10",
  "0b1",
  "1_000",
  " 7 ",
  "2147483647",
  "2147483648",
  "9007199254740991",
  "9007199254740993",
  "99999999999999999999999",
  "",
  "true",
  "null",
];

const hostileStrings = [
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "prototype",
  "..",
  "../..",
  "%",
  "%00",
  "\u0000",
  "\ud800",
  "\u202e",
  "é",
  "😀",
  "a".repeat(5000),
  "<script>",
  "' OR 1=1 --",
  "$" + "{jndi:x}", // a log4j-style lookup, spelled so that it is not a template
  "lr / 0",
  "epoch ** 1e9",
  "log(0)",
  "x".repeat(300),
];

const hostileString = fc.oneof(
  fc.constantFrom(...hostileStrings, ...hostileNumbers),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

/** Nested n deep, near and past the body-depth bound. */
const deepValue = fc.tuple(fc.integer({ min: 1, max: 80 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
  return value;
});

const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, -1, 1, -0, 0.5, 1e308, -1e308, 2 ** 31, 2 ** 53 + 2, 1e-320) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 3, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, [], {}, [[]], [1, 2, 3]) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3000 }).map((n) => Array(n).fill(0)) },
);

const hostileKeys = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "",
  "a/b",
  "~1",
  "type",
  "name",
  "units",
  "monitor",
  "x".repeat(200),
];

// ---------------------------------------------------------------------------------------------------
// Mutation of JSON documents (the examples), as data so fast-check can shrink a failing case.

/** Percent-encoding as a client does it; a lone surrogate (which cannot be encoded) becomes U+FFFD. */
function encode(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udfff]/gu, "\ufffd"));
}

/** `arbitrary` once in `every` cases, null otherwise. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: every - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type Mutation =
  | { kind: "set"; at: number; value: unknown }
  | { kind: "delete"; at: number }
  | { kind: "add"; at: number; key: string; value: unknown }
  | { kind: "callbackType"; at: number; type: string }
  | { kind: "truncateArray"; at: number; length: number }
  | { kind: "duplicate"; at: number };

const callbackTypes = [
  "ReduceLROnPlateau",
  "EarlyStopping",
  "TerminateOnNaN",
  "ModelCheckpoint",
  "CSVLogger",
  "LearningRateScheduler",
  "Rule",
  "constructor",
  "toString",
  "hasOwnProperty",
  "__proto__",
  "valueOf",
  "",
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: hostileJson }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      at: fc.nat(),
      key: fc.oneof(fc.constantFrom(...hostileKeys), fc.string({ maxLength: 10 })),
      value: hostileJson,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("callbackType" as const),
      at: fc.nat(),
      type: fc.constantFrom(...callbackTypes),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("truncateArray" as const),
      at: fc.nat(),
      length: fc.nat({ max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat() }) },
);

/** Every container and value position of a document, parents first, iteratively. */
function positions(root: Json): { parent: Json[] | Record<string, Json>; key: string | number }[] {
  const found: { parent: Json[] | Record<string, Json>; key: string | number }[] = [];
  const pending: Json[] = [root];
  while (pending.length > 0) {
    const value = pending.pop()!;
    if (value === null || typeof value !== "object") continue;
    const entries: [string | number, Json][] = Array.isArray(value)
      ? value.map((item, i) => [i, item])
      : Object.entries(value);
    for (const [key, child] of entries) {
      found.push({ parent: value, key });
      pending.push(child);
    }
  }
  return found;
}

function containers(root: Json): (Json[] | Record<string, Json>)[] {
  const all = positions(root)
    .map(({ parent, key }) => (parent as Record<string, Json>)[key as string])
    .filter((value): value is Json[] | Record<string, Json> => value !== null && typeof value === "object");
  return [root as Record<string, Json>, ...all];
}

function applyMutation(document: Json, m: Mutation): void {
  const spots = positions(document);
  if (m.kind === "add") {
    const objects = containers(document).filter((c) => !Array.isArray(c)) as Record<string, Json>[];
    if (objects.length === 0) return;
    // defineProperty: "__proto__" becomes an own (serialized) property, as a client's JSON would have it.
    Object.defineProperty(objects[m.at % objects.length], m.key, {
      value: structuredClone(m.value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return;
  }
  if (m.kind === "callbackType") {
    const callbacks = spots.filter(({ key, parent }) => key === "type" && !Array.isArray(parent));
    if (callbacks.length === 0) return;
    const { parent } = callbacks[m.at % callbacks.length];
    (parent as Record<string, Json>).type = m.type;
    return;
  }
  if (m.kind === "truncateArray") {
    const arrays = containers(document).filter(Array.isArray) as Json[][];
    if (arrays.length > 0)
      arrays[m.at % arrays.length].length = Math.min(m.length, arrays[m.at % arrays.length].length);
    return;
  }
  if (spots.length === 0) return;
  const { parent, key } = spots[m.at % spots.length];
  // Values are cloned: fast-check hands out the same constant objects to every case.
  if (m.kind === "set") (parent as Record<string, unknown>)[key] = structuredClone(m.value);
  else if (m.kind === "delete") {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else if (m.kind === "duplicate" && Array.isArray(parent)) {
    parent.push(structuredClone(parent[key as number]));
  }
}

/** Raw-text damage: what a broken client or a proxy does to a body. */
type TextDamage =
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; text: string }
  | { kind: "hugeNumber"; nth: number; literal: string }
  | { kind: "proto"; nth: number; key: string }
  | { kind: "nest"; depth: number }
  | { kind: "bom" }
  | { kind: "invalidUtf8"; at: number };

const textDamage: fc.Arbitrary<TextDamage> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(",", "]", "}", '"', "\\", "{", "\u0000", "\ud800", "/*", "NaN"),
      fc.string(),
    ),
  }),
  fc.record({
    kind: fc.constant("hugeNumber" as const),
    nth: fc.nat(),
    literal: fc.constantFrom(
      "1e400",
      "-1E+999",
      "9007199254740993",
      "-0",
      "1e-400",
      "123456789012345678901234567890",
    ),
  }),
  fc.record({
    kind: fc.constant("proto" as const),
    nth: fc.nat(),
    key: fc.constantFrom("__proto__", "constructor", "\\u005f_proto__"),
  }),
  fc.record({ kind: fc.constant("nest" as const), depth: fc.constantFrom(63, 64, 65, 200, 10_000) }),
  fc.record({ kind: fc.constant("bom" as const) }),
  fc.record({ kind: fc.constant("invalidUtf8" as const), at: fc.nat() }),
);

function damage(text: string, d: TextDamage): string | Buffer {
  const at = (n: number) => n % (text.length + 1);
  switch (d.kind) {
    case "truncate":
      return text.slice(0, at(d.at));
    case "insert":
      return text.slice(0, at(d.at)) + d.text + text.slice(at(d.at));
    case "hugeNumber": {
      const numbers = [...text.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
      if (numbers.length === 0) return text;
      const match = numbers[d.nth % numbers.length];
      return text.slice(0, match.index) + d.literal + text.slice(match.index + match[0].length);
    }
    case "proto": {
      const braces = [...text.matchAll(/\{/g)];
      if (braces.length === 0) return text;
      const index = braces[d.nth % braces.length].index + 1;
      return `${text.slice(0, index)}"${d.key}": {"polluted": true},${text.slice(index)}`;
    }
    case "nest":
      return `${"[".repeat(d.depth)}${text}${"]".repeat(d.depth)}`;
    case "bom":
      return `\ufeff${text}`;
    case "invalidUtf8": {
      const bytes = Buffer.from(text);
      const index = d.at % (bytes.length + 1);
      return Buffer.concat([
        bytes.subarray(0, index),
        Buffer.from([0xff, 0xc0, 0xaf]),
        bytes.subarray(index),
      ]);
    }
  }
}

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Json;
const examplesDir = new URL("../../../examples/", import.meta.url);
const exampleFiles = readdirSync(examplesDir).filter((file) => file.endsWith(".json"));
const jobSeeds: Json[] = [
  ...exampleFiles
    .filter((f) => !f.startsWith("simulate"))
    .map((f) => readJson(new URL(f, examplesDir).pathname)),
  // The other data sources and callbacks, so mutations reach their checks too.
  {
    name: "inline",
    model: { layers: [{ class_name: "Dense", config: { units: 1, input_shape: [2] } }] },
    compile: { optimizer: "sgd", loss: "mse" },
    data: {
      source: "inline",
      x: [
        [0, 1],
        [1, 0],
        [1, 1],
        [0, 0],
      ],
      y: [1, 1, 0, 0],
    },
    fit: { epochs: 2, batch_size: 2 },
    callbacks: [
      { type: "LearningRateScheduler", schedule: "lr * exp(-0.1 * epoch)" },
      { type: "Rule", on: "epoch_end", if: "loss > 10", then: ["stop_training", { log: "diverged" }] },
      { type: "CSVLogger", filename: "log.csv" },
    ],
  },
  {
    name: "dataset",
    model: {
      layers: [{ class_name: "Dense", config: { units: 2, activation: "softmax", input_shape: [2] } }],
    },
    compile: { optimizer: { name: "adam", learning_rate: 0.01 }, loss: "sparse_categorical_crossentropy" },
    data: { source: "dataset", id: world.dataset, label: "label", features: ["a", "b"] },
    fit: { epochs: 2 },
    callbacks: [{ type: "EarlyStopping", monitor: "loss", patience: 1 }],
  },
  {
    name: "uri",
    model: {
      keras_json: readJson(
        new URL("../../../libs/training/fixtures/keras/keras3-sequential.json", import.meta.url).pathname,
      ),
    },
    compile: { optimizer: "rmsprop", loss: "mse" },
    data: { source: "uri", uri: `s3://${base.S3_BUCKET}/uploads/x.csv`, label: "y" },
    fit: { epochs: 1 },
    callbacks: [
      { type: "ModelCheckpoint", monitor: "loss", save_best_only: true, filepath: "best-{epoch:02d}" },
    ],
  },
];
const simulateSeeds: Json[] = [
  ...exampleFiles
    .filter((f) => f.startsWith("simulate"))
    .map((f) => readJson(new URL(f, examplesDir).pathname)),
  {
    optimizer: { name: "sgd", learning_rate: 0.1 },
    callbacks: [
      { type: "LearningRateScheduler", schedule: "epoch < 2 ? lr : lr * 0.5" },
      {
        type: "Rule",
        on: "train_batch_end",
        if: "loss > 0.9",
        then: [{ set_learning_rate: "lr / 2" }, "checkpoint"],
      },
      { type: "ModelCheckpoint", monitor: "val_loss", save_best_only: true, save_freq: 1 },
      { type: "TerminateOnNaN" },
    ],
    epochs: [
      { logs: { loss: 1, val_loss: 1 }, batches: [{ loss: 1 }, { loss: 0.95 }] },
      { logs: { loss: 0.5, val_loss: 0.9 } },
      { logs: { loss: 0.4, val_loss: 0.95 } },
    ],
  },
];

interface Body {
  payload?: string | Buffer;
  contentType?: string;
}

const jsonTypes = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "Application/JSON",
  "application/json; charset=latin1",
  "application/json;;",
);
const otherTypes = fc.constantFrom(
  "text/plain",
  "text/csv",
  "application/x-ndjson",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "a/b/c",
  "",
  "application/json, text/plain",
);

/** A seed document, mutated, then possibly damaged as text or sent with another content type. */
function mutatedBody(seeds: Json[]): fc.Arbitrary<Body> {
  return fc
    .record({
      seed: fc.nat({ max: seeds.length - 1 }),
      mutations: fc.array(mutation, { minLength: 0, maxLength: 4 }),
      damage: sometimes(textDamage, 4),
      contentType: fc.oneof({ weight: 9, arbitrary: jsonTypes }, { weight: 1, arbitrary: otherTypes }),
    })
    .map(({ seed, mutations, damage: d, contentType }) => {
      const document = structuredClone(seeds[seed]);
      for (const m of mutations) applyMutation(document, m);
      const text = JSON.stringify(document) ?? "null";
      return { payload: d ? damage(text, d) : text, contentType };
    });
}

const genericBody: fc.Arbitrary<Body> = fc.oneof(
  fc.record({
    payload: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? "null"),
    contentType: jsonTypes,
  }),
  fc.record({ payload: fc.string({ maxLength: 200 }), contentType: fc.oneof(jsonTypes, otherTypes) }),
  fc.record({
    payload: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    contentType: fc.oneof(jsonTypes, otherTypes),
  }),
  fc.constant({}),
);

const tableBody: fc.Arbitrary<Body> = fc
  .record({
    text: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom("a,b,label\n1,2,x\n", '{"a": 1, "label": "x"}\n{"a": 2, "label": "y"}\n'),
      },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'a,"b\n1,2\n',
          "a,b\n1\n1,2,3\n",
          "",
          "\n\n",
          '{"a": 1, "label": "x"}\n{"a": 2}\n',
          '{"a": 1}\nnot json\n',
          "\ufeffa,b\n1,2\n",
          "a,a\n1,2\n",
          `${"c,".repeat(3000)}c\n`,
        ),
      },
      { weight: 2, arbitrary: fc.string({ maxLength: 300 }) },
    ),
    damage: sometimes(fc.constantFrom("invalidUtf8", "huge", "nul"), 3),
    contentType: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          "text/csv",
          "application/x-ndjson",
          "application/jsonl",
          "text/csv; charset=utf-8",
        ),
      },
      { weight: 1, arbitrary: otherTypes },
      { weight: 1, arbitrary: jsonTypes },
    ),
  })
  .map(({ text, damage: d, contentType }) => ({
    payload:
      d === "invalidUtf8"
        ? Buffer.concat([Buffer.from(text), Buffer.from([0xc3, 0x28, 0xff])])
        : d === "huge"
          ? `a\n${"1\n".repeat(40_000)}`
          : d === "nul"
            ? `${text}\u0000`
            : text,
    contentType,
  }));

function bodyFor(route: Route): fc.Arbitrary<Body> {
  if (route.key === "POST /v1/jobs")
    return fc.oneof({ weight: 9, arbitrary: mutatedBody(jobSeeds) }, { weight: 1, arbitrary: genericBody });
  if (route.key === "POST /v1/callbacks/simulate") {
    return fc.oneof(
      { weight: 9, arbitrary: mutatedBody(simulateSeeds) },
      { weight: 1, arbitrary: genericBody },
    );
  }
  if (route.key === "POST /v1/datasets") return tableBody;
  if (route.auth === "admin") {
    return fc.oneof(mutatedBody([{ name: "fuzz-tenant" }, { name: "fuzz-key" }]), genericBody);
  }
  if (route.method === "GET" || route.method === "HEAD")
    return fc.oneof({ weight: 9, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: genericBody });
  return genericBody;
}

// ---------------------------------------------------------------------------------------------------
// Path parameters, query strings, headers.

const garbage = fc.oneof(
  fc.constantFrom(...hostileStrings, ...hostileNumbers, "best", "model.json", "%2e%2e", "..%2F..%2F"),
  fc.string({ maxLength: 40 }),
  fc.uuid().map((id) => id.toUpperCase()),
);

function paramValues(route: Route, name: string): fc.Arbitrary<string> {
  const known: string[] = [];
  if (name === "id") {
    known.push(world.finished, world.cancelled, world.dataset, "00000000-0000-0000-0000-000000000000");
    // A queued job's event stream stays open until the job ends; its other routes are fair game.
    if (!route.url.endsWith("/events")) known.push(world.queued);
  }
  if (name === "checkpoint") known.push(world.checkpoint, "best");
  if (name === "file") known.push(world.shard, "model.json", `${world.shard}.bak`, "..", "a/b");
  const values = fc.oneof(
    { weight: 6, arbitrary: known.length > 0 ? fc.constantFrom(...known) : fc.uuid() },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: garbage },
  );
  // Mostly encoded as a client would; sometimes sent raw, percent signs and all.
  return fc
    .tuple(values, fc.nat({ max: 9 }))
    .map(([value, raw]) => (raw === 0 ? value.replace(/[^\x21-\x7e]/g, "") || "x" : encode(value)));
}

/** Per query parameter, a usable value first, then edge cases of its own kind. */
const usableValues = new Map<string, string[]>(
  Object.entries({
    limit: ["1", "20", "100", "101", "0"],
    after: ["0", "3", "7", "2147483647", "2147483648"],
    level: ["epoch", "batch", "EPOCH"],
    status: ["queued", "running", "succeeded", "failed", "cancelled", "unknown"],
    cursor: [
      world.cursor,
      ...[
        "+200000-01-01T00:00:00.000Z",
        "-100000-01-01T00:00:00.000Z",
        "0000-01-01T00:00:00.000Z",
        "junk",
      ].map((time) => Buffer.from(`${time}|${world.finished}`).toString("base64url")),
      "!!!",
    ],
    filename: ["train.csv", "../x.csv", ".hidden", "a".repeat(129), "ok.csv"],
    token: ["1.abc", "99999999999.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ""],
  }),
);

function queryValue(name: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(usableValues.get(name) ?? ["x"])) },
    { weight: 3, arbitrary: fc.constantFrom(...hostileNumbers) },
    { weight: 2, arbitrary: garbage },
  );
}

function queryFor(route: Route): fc.Arbitrary<string> {
  const names = queryNames.get(route.key) ?? [];
  const name = fc.oneof(
    { weight: 6, arbitrary: names.length > 0 ? fc.constantFrom(...names) : fc.constant("limit") },
    { weight: 2, arbitrary: allQueryNames.length > 0 ? fc.constantFrom(...allQueryNames) : fc.constant("x") },
    { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "a[b]", "", "x") },
  );
  const pair = name.chain((n) => queryValue(n).map((v) => `${encode(n)}=${encode(v)}`));
  // Some of the route's own parameters with usable values, so that the others reach the handler.
  const usable = fc.subarray(names.map((n) => `${encode(n)}=${encode(usableValues.get(n)?.[0] ?? "1")}`));
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(usable, fc.array(pair, { maxLength: 4 }))
        .map(([valid, pairs]) => [...valid, ...pairs].join("&")),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "&&==&",
        "%",
        "limit",
        "limit=%ZZ",
        "after[]=1&after[]=2",
        "limit=1&limit=2",
      ),
    },
  );
}

const headerValue = fc.oneof(
  fc.constantFrom(...hostileNumbers),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
);

const headers: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    "last-event-id": fc.oneof(headerValue, fc.constantFrom("7", "6", "8", "0", "2147483647", "2147483648")),
    host: fc.constantFrom("evil.example.com", "evil.example.com:666", "[::1]", "localhost", "a".repeat(300)),
    "x-forwarded-host": fc.constant("evil.example.com"),
    "x-forwarded-proto": fc.constantFrom("javascript", "https"),
    accept: fc.constantFrom("text/event-stream", "application/json", "*/*", "text/html;q=0", "garbage"),
    // A few keys reused across cases: the same key with another body, a key in flight, odd keys.
    "idempotency-key": fc.oneof(fc.constantFrom("fuzz-1", "fuzz-2", "", " ", "k".repeat(300)), headerValue),
  },
  { requiredKeys: [] },
);

interface Case {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

function caseFor(route: Route): fc.Arbitrary<Case> {
  const names = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]);
  const params = fc.tuple(...names.map((name) => paramValues(route, name)));
  return fc
    .record({
      params: names.length > 0 ? params : fc.constant([] as string[]),
      query: queryFor(route),
      headers: fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 2, arbitrary: headers }),
      // Rare, or most cases would stop at the key check.
      authorization: sometimes(
        fc.constantFrom(
          "",
          "Bearer",
          "Bearer x",
          "Basic YTpi",
          `Bearer ${"k".repeat(5000)}`,
          "Bearer \u00e9",
        ),
        20,
      ),
      body: bodyFor(route),
    })
    .map(({ params: values, query, headers: extra, authorization, body }) => {
      let i = 0;
      const path = route.url.replace(/:(\w+)/g, () => values[i++]);
      const all: Record<string, string> = { ...extra };
      if (authorization !== null) all.authorization = authorization;
      if (body.contentType !== undefined) all["content-type"] = body.contentType;
      return {
        method: route.method,
        url: query ? `${path}?${query}` : path,
        headers: all,
        ...(body.payload !== undefined && { payload: body.payload }),
      };
    });
}

// ---------------------------------------------------------------------------------------------------

const tally = new Map<string, Record<number, number>>();

async function jobsStored(): Promise<[number, number]> {
  return [await api.deps.db.job.count({ where: { tenantId: api.tenant.id } }), await api.deps.queue.count()];
}

/** A hang is a failure too: every request must be answered. */
async function answered(route: Route, c: Case): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within 20 s to ${c.method} ${c.url}`)), 20_000);
  });
  try {
    return await Promise.race([send(route, c), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("fuzzing every route", () => {
  it("finds the app's routes", () => {
    expect(routes.map((r) => r.key)).toEqual(
      expect.arrayContaining([
        "POST /v1/jobs",
        "GET /v1/jobs/:id/metrics",
        "GET /v1/jobs/:id/events",
        "POST /v1/callbacks/simulate",
        "GET /v1/jobs/:id/checkpoints/:checkpoint/:file",
      ]),
    );
  });

  it.each(routes.map((route) => [route.key, route] as const))(
    "%s: hostile input never gets a 5xx",
    async (_, route) => {
      const statuses: Record<number, number> = {};
      tally.set(route.key, statuses);
      const submits = route.key === "POST /v1/jobs";
      await fc.assert(
        fc.asyncProperty(caseFor(route), async (c) => {
          const before = submits ? await jobsStored() : undefined;
          const response = await answered(route, c);
          statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
          const said = `${response.statusCode} ${response.body.slice(0, 500)}`;
          expect(response.statusCode, said).toBeLessThan(500);
          if (response.statusCode >= 400 && c.method !== "HEAD") {
            expect(response.json(), said).toEqual({
              error: expect.any(String),
              message: expect.any(String),
              details: expect.any(Array),
            });
          }
          // Absolute URLs never take a client's Host.
          expect(String(response.headers.location ?? "")).not.toContain("evil.example");
          const json = String(response.headers["content-type"]).includes("json") && c.method !== "HEAD";
          if (response.statusCode === 200 && json) {
            expect(String(response.json()?.model_url ?? "")).not.toContain("evil.example");
          }
          if (before && response.statusCode !== 201) expect(await jobsStored(), said).toEqual(before);
        }),
        { seed: SEED, numRuns: runsFor(route), verbose: 1 },
      );
    },
    300_000,
  );
});
