import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the integration tests find Postgres, Redis and S3, and how to stop what was started for them. */
export interface Services {
  /** Any database on the server; each run creates its own database next to it. */
  postgresUrl: string;
  redisUrl: string;
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
  /** One phrase per service saying where it came from, for the run's summary line. */
  origins: string[];
  stop(): Promise<void>;
}

type Env = Record<string, string | undefined>;

const LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres";
const LOCAL_REDIS = "redis://127.0.0.1:6379";
const S3RVER_SCRIPT = fileURLToPath(new URL("../scripts/s3rver.mjs", import.meta.url));

/**
 * Picks each service in the foundation's order of preference: a URL already in the environment;
 * else containers when a Docker daemon answers (testcontainers' own probe fails in milliseconds
 * without one); else this machine's local services, with S3 from an s3rver child process.
 */
export async function startServices(env: Env): Promise<Services> {
  const fromEnv = {
    postgres: env.DATABASE_URL,
    redis: env.REDIS_URL,
    s3: env.S3_ENDPOINT
      ? {
          endpoint: env.S3_ENDPOINT,
          accessKeyId: env.S3_ACCESS_KEY_ID ?? "S3RVER",
          secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? "S3RVER",
          region: env.S3_REGION ?? "us-east-1",
        }
      : undefined,
  };
  const origins: string[] = [];
  if (fromEnv.postgres) origins.push("Postgres from DATABASE_URL");
  if (fromEnv.redis) origins.push("Redis from REDIS_URL");
  if (fromEnv.s3) origins.push("S3 from S3_ENDPOINT");
  if (fromEnv.postgres && fromEnv.redis && fromEnv.s3) {
    return {
      postgresUrl: fromEnv.postgres,
      redisUrl: fromEnv.redis,
      s3: fromEnv.s3,
      origins,
      stop: async () => {},
    };
  }

  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    await Promise.allSettled(stops.reverse().map((s) => s()));
  };
  try {
    if (await dockerAnswers()) {
      const containers = await startContainers({
        postgres: !fromEnv.postgres,
        redis: !fromEnv.redis,
        s3: !fromEnv.s3,
      });
      stops.push(containers.stop);
      origins.push(...containers.origins);
      return {
        postgresUrl: fromEnv.postgres ?? containers.postgresUrl!,
        redisUrl: fromEnv.redis ?? containers.redisUrl!,
        s3: fromEnv.s3 ?? containers.s3!,
        origins,
        stop,
      };
    }
    let s3 = fromEnv.s3;
    if (!s3) {
      const s3rver = await startS3rver();
      stops.push(s3rver.stop);
      s3 = {
        endpoint: s3rver.endpoint,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
        region: "us-east-1",
      };
      origins.push(`S3 from s3rver at ${s3rver.endpoint} (no Docker daemon)`);
    }
    if (!fromEnv.postgres) origins.push("local Postgres 127.0.0.1:5432");
    if (!fromEnv.redis) origins.push("local Redis 127.0.0.1:6379");
    return {
      postgresUrl: fromEnv.postgres ?? LOCAL_POSTGRES,
      redisUrl: fromEnv.redis ?? LOCAL_REDIS,
      s3,
      origins,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function dockerAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import("testcontainers");
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(wanted: { postgres: boolean; redis: boolean; s3: boolean }) {
  const { GenericContainer, Wait } = await import("testcontainers");
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const { RedisContainer } = await import("@testcontainers/redis");
  const [postgres, redis, minio] = await Promise.all([
    wanted.postgres ? new PostgreSqlContainer("postgres:16-alpine").start() : undefined,
    wanted.redis ? new RedisContainer("redis:7-alpine").start() : undefined,
    wanted.s3
      ? new GenericContainer("minio/minio:latest")
          .withCommand(["server", "/data"])
          .withEnvironment({ MINIO_ROOT_USER: "plateau", MINIO_ROOT_PASSWORD: "plateau-secret" })
          .withExposedPorts(9000)
          .withWaitStrategy(Wait.forHttp("/minio/health/live", 9000))
          .start()
      : undefined,
  ]);
  const origins: string[] = [];
  if (postgres) origins.push("Postgres in a container");
  if (redis) origins.push("Redis in a container");
  if (minio) origins.push("S3 from MinIO in a container");
  return {
    postgresUrl: postgres?.getConnectionUri(),
    redisUrl: redis?.getConnectionUrl(),
    s3: minio && {
      endpoint: `http://${minio.getHost()}:${minio.getMappedPort(9000)}`,
      accessKeyId: "plateau",
      secretAccessKey: "plateau-secret",
      region: "us-east-1",
    },
    origins,
    stop: async () => {
      await Promise.allSettled([postgres?.stop(), redis?.stop(), minio?.stop()]);
    },
  };
}

/**
 * s3rver runs in a child process, not in vitest's: it needs OpenSSL's legacy provider, which can
 * only be enabled when a process starts, whatever NODE_OPTIONS vitest itself was started with. The child also exits
 * when our end of its stdin closes, so a killed test run does not leave it behind.
 */
async function startS3rver(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), "plateau-s3rver-"));
  const child = spawn(
    process.execPath,
    [
      "--openssl-legacy-provider",
      S3RVER_SCRIPT,
      "--directory",
      directory,
      "--port",
      "0",
      "--exit-with-stdin",
    ],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const stop = async () => {
    await stopChild(child);
    await rm(directory, { recursive: true, force: true });
  };
  try {
    return { endpoint: await readyLine(child), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function readyLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 15 s:\n${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /s3rver listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before it was ready:\n${output}`));
    });
  });
}

/** SIGTERM, then SIGKILL if the process has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
