import type { Config } from "@plateau/config";
import type { Redis } from "ioredis";

/** What a worker says about itself in each heartbeat (GET /v1/workers). */
export interface WorkerInfo {
  id: string;
  host: string;
  backend: string;
  device: string;
  startedAt: Date;
}

export interface LiveWorker {
  id: string;
  host: string;
  backend: string;
  device: string;
  currentJobs: string[];
  startedAt: string;
  lastHeartbeatAt: string;
}

/** A worker that missed this many heartbeats in a row is gone: its entry expires in Redis. */
const MISSED_HEARTBEATS = 3;

type Prefix = Pick<Config, "REDIS_PREFIX">;
const indexKey = (config: Prefix) => `${config.REDIS_PREFIX}:workers`;
const workerKey = (config: Prefix, id: string) => `${config.REDIS_PREFIX}:worker:${id}`;

/**
 * A worker's entry in the registry: a key per worker that each heartbeat rewrites with a TTL of
 * MISSED_HEARTBEATS intervals, so Redis itself forgets a worker that crashed, hung or lost its network;
 * no clock but Redis's decides. A set indexes the keys for listing (entries whose key expired are pruned
 * by the reader).
 */
export class WorkerHeartbeat {
  private readonly jobs = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private lastOk = 0;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly config: Prefix & Pick<Config, "WORKER_HEARTBEAT_MS">,
    private readonly info: WorkerInfo,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /**
   * Registers the worker and keeps it registered until `stop`; resolves after the first heartbeat, which,
   * like every later one, reports a failure to `onError` and is tried again at the next interval.
   */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.config.WORKER_HEARTBEAT_MS);
    this.timer.unref();
  }

  /** The worker took a job: listed at once, not at the next heartbeat. */
  jobStarted(jobId: string): void {
    this.jobs.add(jobId);
    void this.beat();
  }

  jobEnded(jobId: string): void {
    if (this.jobs.delete(jobId)) void this.beat();
  }

  /** Whether the last heartbeat reached Redis within the time the entry lives. */
  get healthy(): boolean {
    return Date.now() - this.lastOk < this.config.WORKER_HEARTBEAT_MS * MISSED_HEARTBEATS;
  }

  /** Leaves the registry at once (a clean shutdown need not wait for the TTL). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    await this.redis
      .multi()
      .del(workerKey(this.config, this.info.id))
      .srem(indexKey(this.config), this.info.id)
      .exec();
  }

  // One write at a time, so a slow one cannot land after a newer one.
  private beat(): Promise<void> {
    this.beating = this.beating.then(() => this.write().catch(this.onError));
    return this.beating;
  }

  private async write(): Promise<void> {
    const now = new Date();
    const entry: LiveWorker = {
      id: this.info.id,
      host: this.info.host,
      backend: this.info.backend,
      device: this.info.device,
      currentJobs: [...this.jobs],
      startedAt: this.info.startedAt.toISOString(),
      lastHeartbeatAt: now.toISOString(),
    };
    const ttlMs = this.config.WORKER_HEARTBEAT_MS * MISSED_HEARTBEATS;
    const results = await this.redis
      .multi()
      .set(workerKey(this.config, this.info.id), JSON.stringify(entry), "PX", ttlMs)
      .sadd(indexKey(this.config), this.info.id)
      .exec();
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
    this.lastOk = now.getTime();
  }
}

/** The workers whose heartbeat has not expired, by id; forgets the expired ones. */
export async function listWorkers(redis: Redis, config: Prefix): Promise<LiveWorker[]> {
  const ids = (await redis.smembers(indexKey(config))).sort();
  if (ids.length === 0) return [];
  const entries = await redis.mget(ids.map((id) => workerKey(config, id)));
  const gone = ids.filter((_, i) => entries[i] === null);
  // A worker whose key came back in between is pruned too; its next heartbeat adds it again.
  if (gone.length > 0) await redis.srem(indexKey(config), ...gone);
  return entries.flatMap((entry) => (entry === null ? [] : [JSON.parse(entry) as LiveWorker]));
}
