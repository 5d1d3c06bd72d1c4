import type {
  ApiKey,
  BestCheckpoint,
  CancelResult,
  CheckpointList,
  CreatedApiKey,
  Dataset,
  DryRunResult,
  FinalModel,
  Job,
  JobFileList,
  JobPage,
  JobSpec,
  ListJobsQuery,
  MetricsPage,
  MetricsQuery,
  NewApiKey,
  SimulationInput,
  SimulationResult,
  StreamEvent,
  Tenant,
} from "@plateau/contract";
import { ApiError, ApiUnreachableError } from "./errors";
import { type StreamEventsOptions, streamEvents } from "./event-stream";

export interface ClientOptions {
  /** Where the API listens, e.g. http://127.0.0.1:8080 (a trailing slash is fine). */
  baseUrl: string;
  /**
   * Sent as `Authorization: Bearer <apiKey>` on every request: a tenant's key (`plat_…`), or the API's
   * ADMIN_API_KEY for the admin methods (createTenant, createApiKey, listApiKeys, revokeApiKey).
   */
  apiKey?: string;
  /** Defaults to the global fetch (Node 20). */
  fetch?: typeof fetch;
}

export interface UploadOptions {
  /** The file's name; its extension (.csv, .jsonl) tells the API the format. */
  filename: string;
  /** Defaults from the extension: text/csv or application/x-ndjson. */
  contentType?: string;
}

type Query = Record<string, string | number | undefined>;

/** fetch that sends the API key with every request, the event stream's reconnects included. */
function withKey(fetchImpl: typeof fetch, apiKey?: string): typeof fetch {
  if (!apiKey) return fetchImpl;
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${apiKey}`);
    return fetchImpl(input, { ...init, headers });
  };
}

/** A typed client of the Plateau HTTP API: one method per route; API errors are thrown as ApiError. */
export class PlateauClient {
  readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetch = withKey(options.fetch ?? globalThis.fetch, options.apiKey);
  }

  submitJob(spec: JobSpec): Promise<Job> {
    return this.request("POST", "/v1/jobs", { json: spec });
  }

  /** Validates a spec exactly as submitJob would (400 ApiError with every problem) without storing it. */
  validateJob(spec: unknown): Promise<DryRunResult> {
    return this.request("POST", "/v1/jobs", { query: { dry_run: "true" }, json: spec });
  }

  getJob(id: string): Promise<Job> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /** Newest first; pass `next_cursor` back as `cursor` for the next page. */
  listJobs(query: ListJobsQuery = {}): Promise<JobPage> {
    return this.request("GET", "/v1/jobs", { query: { ...query } });
  }

  /** Poll with `after` = the previous page's `next_after` to get each row once, in order. */
  metrics(id: string, query: MetricsQuery = {}): Promise<MetricsPage> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}/metrics`, { query: { ...query } });
  }

  cancel(id: string): Promise<CancelResult> {
    return this.request("POST", `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  checkpoints(id: string): Promise<CheckpointList> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}/checkpoints`);
  }

  /** The best checkpoint's `model_url`, loadable with `tf.loadLayersModel`; a 404 ApiError when none exists. */
  bestCheckpoint(id: string): Promise<BestCheckpoint> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}/checkpoints/best`);
  }

  /**
   * The model the job ended with (after EarlyStopping's restore_best_weights) as a `model_url` that
   * `tf.loadLayersModel` loads; a 404 ApiError (`no_model`) until the job has one.
   */
  finalModel(id: string): Promise<FinalModel> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}/model`);
  }

  /** The files the job's callbacks wrote (CSVLogger). */
  files(id: string): Promise<JobFileList> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}/files`);
  }

  /** One file the job wrote, as text (a CSVLogger file is CSV). */
  fileText(id: string, name: string): Promise<string> {
    const path = `/v1/jobs/${encodeURIComponent(id)}/files/${encodeURIComponent(name)}`;
    return this.request("GET", path, { headers: { accept: "*/*" }, text: true });
  }

  /** Stores a CSV or JSONL file in the service's S3; reference it in a spec as `{"source": "dataset", "id"}`. */
  uploadDataset(content: string | Blob, options: UploadOptions): Promise<Dataset> {
    const contentType = options.contentType ?? contentTypeFor(options.filename);
    return this.request("POST", "/v1/datasets", {
      query: { filename: options.filename },
      body: content,
      headers: { "content-type": contentType },
    });
  }

  /** Dry-runs callbacks over a recorded metric sequence, without training. */
  simulate(input: SimulationInput): Promise<SimulationResult> {
    return this.request("POST", "/v1/callbacks/simulate", { json: input });
  }

  /** Server-Sent Events of a job, reconnecting with Last-Event-ID; ends with the `done` event. */
  streamEvents(id: string, options: StreamEventsOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    return streamEvents({ baseUrl: this.baseUrl, fetch: this.fetch }, id, options);
  }

  // Administration (/v1/admin): these need a client whose apiKey is the API's ADMIN_API_KEY.

  /** Creates a tenant; its name is unique (409 otherwise). Needs the admin key. */
  createTenant(name: string): Promise<Tenant> {
    return this.request("POST", "/v1/admin/tenants", { json: { name } });
  }

  /** A new key for the tenant; `key` is in this answer only (the API keeps its hash). Needs the admin key. */
  createApiKey(tenantId: string, options: NewApiKey = {}): Promise<CreatedApiKey> {
    return this.request("POST", `/v1/admin/tenants/${encodeURIComponent(tenantId)}/keys`, { json: options });
  }

  /** The tenant's keys, oldest first: prefix, name, created, last used, revoked; never the secrets. */
  listApiKeys(tenantId: string): Promise<{ items: ApiKey[] }> {
    return this.request("GET", `/v1/admin/tenants/${encodeURIComponent(tenantId)}/keys`);
  }

  /** Revokes a key (every request with it answers 401 from then on); revoking twice keeps the first time. */
  revokeApiKey(keyId: string): Promise<ApiKey> {
    return this.request("DELETE", `/v1/admin/keys/${encodeURIComponent(keyId)}`);
  }

  private async request<T>(
    method: string,
    path: string,
    options: {
      query?: Query;
      json?: unknown;
      body?: BodyInit;
      headers?: Record<string, string>;
      /** Answer the body as text rather than JSON. */
      text?: boolean;
    } = {},
  ): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    let response: Response;
    try {
      response = await this.fetch(url, { method, headers, body });
    } catch (error) {
      throw new ApiUnreachableError(this.baseUrl, error);
    }
    if (!response.ok) throw await ApiError.from(response);
    return (options.text ? await response.text() : await response.json()) as T;
  }
}

function contentTypeFor(filename: string): string {
  if (/\.np[yz]$/i.test(filename)) return "application/octet-stream";
  return /\.jsonl$|\.ndjson$/i.test(filename) ? "application/x-ndjson" : "text/csv";
}
