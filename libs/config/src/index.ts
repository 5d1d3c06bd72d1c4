import Type, { type Static } from "typebox";
import Value from "typebox/value";

/**
 * Every setting Plateau reads, with its default and meaning. This schema is the only place that
 * knows about environment variables; the README's configuration table is checked against it.
 */
export const ConfigSchema = Type.Object({
  DATABASE_URL: Type.String({
    default: "postgresql://postgres@127.0.0.1:5432/plateau",
    description: "PostgreSQL connection URL (the source of truth).",
  }),
  REDIS_URL: Type.String({
    default: "redis://127.0.0.1:6379",
    description: "Redis URL for the BullMQ queue, live events and cancel signals.",
  }),
  REDIS_PREFIX: Type.String({
    default: "plateau",
    pattern: "^[A-Za-z0-9_.-]+$",
    description: "Prefix of every Redis key and channel, so several deployments can share one Redis.",
  }),
  S3_ENDPOINT: Type.String({
    default: "http://127.0.0.1:4569",
    description: "S3-compatible endpoint (MinIO, s3rver, AWS). Empty for AWS's default endpoint.",
  }),
  S3_PUBLIC_ENDPOINT: Type.String({
    default: "",
    description:
      "S3 endpoint that clients reach: weight files redirect to URLs presigned on it (e.g. http://localhost:9000 when S3_ENDPOINT is a compose-internal host). Empty: the API streams weight files itself, so neither S3_ENDPOINT nor the access key id reaches clients.",
  }),
  S3_REGION: Type.String({ default: "us-east-1", description: "S3 region." }),
  S3_BUCKET: Type.String({
    default: "plateau",
    pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    description: "Bucket for checkpoints, datasets and resume state (created at start when missing).",
  }),
  S3_ACCESS_KEY_ID: Type.String({ default: "S3RVER", description: "S3 access key id." }),
  S3_SECRET_ACCESS_KEY: Type.String({ default: "S3RVER", description: "S3 secret access key." }),
  S3_FORCE_PATH_STYLE: Type.Boolean({
    default: true,
    description: "Use path-style S3 URLs (needed by MinIO and s3rver).",
  }),
  PRESIGN_TTL_SECONDS: Type.Integer({
    default: 900,
    minimum: 1,
    maximum: 604800,
    description: "Lifetime of presigned checkpoint URLs.",
  }),
  API_HOST: Type.String({ default: "127.0.0.1", description: "Address the API listens on." }),
  API_PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: "API port." }),
  PUBLIC_URL: Type.String({
    default: "",
    description:
      "Base URL clients reach the API at, used in model_url and redirects. Empty: the address the connection arrived at, never the request's Host header; set it behind a proxy or a DNS name.",
  }),
  URL_SIGNING_SECRET: Type.String({
    default: "",
    description:
      "Key that signs the tokens in model URLs. Empty: the first API instance generates one and stores it in Postgres for all.",
  }),
  ADMIN_API_KEY: Type.String({
    default: "",
    pattern: "^(|.{20,})$",
    description:
      "Key of the /v1/admin routes (tenants and API keys). Empty: those routes answer 401. Use 20 or more random characters.",
  }),
  LOG_LEVEL: Type.Enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
    default: "info",
    description: "pino log level.",
  }),
  READY_TIMEOUT_MS: Type.Integer({
    default: 1000,
    minimum: 1,
    description: "Timeout of each dependency check in /readyz.",
  }),
  RECONCILE_INTERVAL_MS: Type.Integer({
    default: 15_000,
    minimum: 1_000,
    description:
      "How often one API instance (whichever holds the lock) compares Postgres with the queue: queued jobs the queue lacks are enqueued, jobs it lost are re-enqueued, jobs it failed for good are failed with its reason.",
  }),
  SSE_RESYNC_MS: Type.Integer({
    default: 10_000,
    minimum: 100,
    description:
      "An open event stream that heard nothing live for this long reads Postgres, so an event whose live message was lost (Redis pub/sub is at-most-once) still arrives (a job's last within twice this).",
  }),
  WORKER_CONCURRENCY: Type.Integer({
    default: 1,
    minimum: 1,
    description: "Jobs one worker process trains at once (one per GPU in production).",
  }),
  WORKER_METRICS_PORT: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 65535,
    description:
      "Port of the worker's own HTTP server: Prometheus /metrics and /healthz (200 while the worker takes jobs and its heartbeat reaches Redis). 0: no server.",
  }),
  WORKER_METRICS_HOST: Type.String({
    default: "127.0.0.1",
    description:
      "Address the worker's metrics server listens on; 0.0.0.0 to let a Prometheus on another host or container scrape it. It serves no tenant's data.",
  }),
  WORKER_HEARTBEAT_MS: Type.Integer({
    default: 10_000,
    minimum: 50,
    maximum: 20_000,
    description:
      "How often a worker writes its heartbeat to Redis (GET /v1/workers); a worker silent for 3 heartbeats drops out of the list.",
  }),
  WORKER_DEVICE: Type.String({
    default: "",
    maxLength: 64,
    description:
      "How the worker names its device in GET /v1/workers and its start-up log, e.g. gpu:1 for the GPU it is pinned to. Empty: gpu or cpu, from the backend it loaded.",
  }),
  TFJS_BACKEND: Type.Enum(["auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu"], {
    default: "auto",
    description: "tfjs backend; auto picks the fastest that loads: tfjs-node-gpu, tfjs-node, wasm, cpu.",
  }),
  BATCH_METRICS_EVERY: Type.Integer({
    default: 10,
    minimum: 1,
    description: "Record batch metrics every N batches (reading them forces a device sync).",
  }),
  BATCH_METRICS_INTERVAL_MS: Type.Integer({
    default: 1000,
    minimum: 0,
    description: "...or when this many ms have passed since the last recorded batch.",
  }),
  EVENT_FLUSH_MS: Type.Integer({
    default: 250,
    minimum: 1,
    description: "The worker writes buffered events to Postgres at least this often.",
  }),
  EVENT_FLUSH_ROWS: Type.Integer({
    default: 500,
    minimum: 1,
    description: "...or as soon as this many events are buffered.",
  }),
  MAX_BUFFERED_EVENTS: Type.Integer({
    default: 100_000,
    minimum: 1,
    description:
      "Events a job's worker holds while Postgres is unreachable; beyond this training waits (never drops a row) until they are written.",
  }),
  S3_RETRY_DEADLINE_MS: Type.Integer({
    default: 300_000,
    minimum: 0,
    description:
      "How long a checkpoint, file or snapshot write keeps retrying through an S3 outage (backoff with jitter, 0.5-10 s apart) before the job's attempt fails.",
  }),
  DATA_URI_PREFIXES: Type.String({
    default: "uploads/{tenant}/",
    pattern: "^\\s*([A-Za-z0-9{][A-Za-z0-9._=+/{}-]*/\\s*(,\\s*|$))*$",
    description:
      "Comma-separated key prefixes inside S3_BUCKET (each ending in /) that a job's data.uri may read; {tenant} stands for the job's tenant id; empty: none. jobs/ and datasets/ are never readable this way.",
  }),
  MAX_ACTIVE_JOBS_PER_TENANT: Type.Integer({
    default: 100,
    minimum: 1,
    description: "Most queued + running jobs one tenant may have; a submission beyond it is a 429.",
  }),
  RATE_LIMIT_PER_MINUTE: Type.Integer({
    default: 600,
    minimum: 1,
    description:
      "Requests per API key (or per address, without one) per minute, counted in Redis across API instances.",
  }),
  MAX_STREAMS_PER_KEY: Type.Integer({
    default: 20,
    minimum: 1,
    description: "Open event streams (SSE) one API key may hold on one API instance.",
  }),
  MAX_EPOCHS: Type.Integer({ default: 1000, minimum: 1, description: "Largest fit.epochs accepted." }),
  MAX_PARAMS: Type.Integer({
    default: 10_000_000,
    minimum: 1,
    description: "Largest model (trainable + non-trainable parameters) accepted.",
  }),
  MAX_INLINE_BYTES: Type.Integer({
    default: 1_048_576,
    minimum: 1,
    description: "Largest request body, which bounds inline data.",
  }),
  MAX_UPLOAD_BYTES: Type.Integer({
    default: 104_857_600,
    minimum: 1,
    description: "Largest dataset upload (POST /v1/datasets).",
  }),
  MAX_DATA_CELLS: Type.Integer({
    default: 5_000_000,
    minimum: 1,
    description:
      "Largest job data, in cells: rows × (features + label columns), training and validation data together. Checked at submission for builtin and inline data, and by the worker as it reads files.",
  }),
  MAX_EVENTS_PER_SECOND: Type.Integer({
    default: 20,
    minimum: 1,
    description:
      "Per job and second, the most callback events and the most batch_end events the worker stores; the rest are counted in one callback event (Plateau events_dropped). status, epoch_end and checkpoint events are never dropped.",
  }),
  WEBHOOK_ALLOWED_HOSTS: Type.String({
    default: "",
    pattern:
      "^\\s*(\\*|(\\*\\.)?[A-Za-z0-9.:\\[\\]-]+)?\\s*(,\\s*(\\*|(\\*\\.)?[A-Za-z0-9.:\\[\\]-]+)\\s*)*$",
    description:
      "Comma-separated hosts a Webhook callback may call: names (hooks.example.com), *.example.com for its subdomains, IP addresses, or * for any host. Empty: Webhook callbacks are refused at submission.",
  }),
  WEBHOOK_ALLOWED_NETWORKS: Type.String({
    default: "",
    pattern:
      "^\\s*((((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])/(3[0-2]|[12]?[0-9])|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))\\s*(,\\s*|$))*$",
    description:
      "Comma-separated CIDR ranges (127.0.0.0/8, 10.1.0.0/16, ::1/128) a webhook may reach although they are not public. Every other loopback, private, link-local or reserved address is refused, for each address a host name resolves to.",
  }),
  WEBHOOK_ALLOW_HTTP: Type.Boolean({
    default: false,
    description: "Allow http:// webhook URLs; otherwise only https://.",
  }),
});

export type Config = Static<typeof ConfigSchema>;
export type ConfigKey = keyof Config;

export class ConfigError extends Error {
  constructor(readonly problems: { key: string; message: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.key}: ${p.message}`).join("\n")}\n` +
        "Fix these environment variables (see the configuration table in README.md).",
    );
    this.name = "ConfigError";
  }
}

/** Reads every setting from `env`, applying defaults; throws a ConfigError listing every bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    if (env[key] !== undefined) raw[key] = env[key];
  }
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw));
  const problems = [...Value.Errors(ConfigSchema, value)].map((error) => ({
    key: error.instancePath.slice(1) || "(root)",
    message: `${error.message} (got ${JSON.stringify(raw[error.instancePath.slice(1)])})`,
  }));
  if (problems.length > 0) throw new ConfigError(dedupe(problems));
  return value as Config;
}

function dedupe(problems: { key: string; message: string }[]) {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.key) && seen.add(p.key));
}

/** The documented settings, for the README table and `--help` output. */
export function describeSettings(): { key: string; default: unknown; description: string }[] {
  return Object.entries(ConfigSchema.properties).map(([key, schema]) => ({
    key,
    default: (schema as { default?: unknown }).default,
    description: (schema as { description?: string }).description ?? "",
  }));
}
