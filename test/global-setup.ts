import { randomBytes } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  paginateListObjectsV2,
  S3Client,
} from "@aws-sdk/client-s3";
import { Redis } from "ioredis";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { ensureDatabase, migrate, redact } from "../libs/db/src/migrate";
import { type Services, startServices } from "./services";

/** The settings every integration test sees, as environment variables `loadConfig()` reads. */
export type IntegrationEnv = Record<
  | "DATABASE_URL"
  | "REDIS_URL"
  | "REDIS_PREFIX"
  | "S3_ENDPOINT"
  | "S3_BUCKET"
  | "S3_ACCESS_KEY_ID"
  | "S3_SECRET_ACCESS_KEY"
  | "S3_REGION"
  | "S3_FORCE_PATH_STYLE",
  string
>;

declare module "vitest" {
  export interface ProvidedContext {
    integrationEnv: IntegrationEnv;
  }
}

/**
 * Gives this run its own database (migrated), Redis key prefix and S3 bucket on the services that
 * test/services.ts picked, and removes all three afterwards, so runs neither collide nor leave
 * anything behind. The settings reach tests both through process.env (inherited by vitest's
 * workers and by processes the tests spawn) and through provide/inject (test/setup-env.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Fixed-length ids, so no run's Redis prefix is a prefix of another run's.
  const runId = randomBytes(6).toString("hex");
  const services = await startServices(process.env);
  const cleanups: (() => Promise<unknown>)[] = [services.stop];
  // In reverse order, one at a time (the bucket must be emptied before its server stops), and on
  // past a failing step so that one leftover does not cause others.
  const teardown = async () => {
    const failures: unknown[] = [];
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => failures.push(error));
    if (failures.length > 0) throw new AggregateError(failures, "integration teardown left something behind");
  };
  try {
    const databaseUrl = withDatabase(services.postgresUrl, `plateau_test_${runId}`);
    await ensureDatabase(databaseUrl).catch((error: Error) => {
      throw unreachable("Postgres", redact(databaseUrl), error);
    });
    cleanups.push(() => dropDatabase(databaseUrl));
    await migrate(databaseUrl);

    const redisPrefix = `test-${runId}`;
    await pingRedis(services.redisUrl);
    cleanups.push(() => deleteRedisKeys(services.redisUrl, redisPrefix));

    const bucket = `plateau-test-${runId}`;
    const s3 = s3Client(services);
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((error: Error) => {
      throw unreachable("S3", services.s3.endpoint, error);
    });
    cleanups.push(() => deleteBucket(s3, bucket).finally(() => s3.destroy()));

    const env: IntegrationEnv = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: services.redisUrl,
      REDIS_PREFIX: redisPrefix,
      S3_ENDPOINT: services.s3.endpoint,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: services.s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
      S3_REGION: services.s3.region,
      S3_FORCE_PATH_STYLE: "true",
    };
    Object.assign(process.env, env);
    project.provide("integrationEnv", env);
    console.log(
      `integration stack: ${services.origins.join(", ")}; ` +
        `database ${redact(databaseUrl)}, Redis prefix ${redisPrefix}, bucket ${bucket}`,
    );
    return teardown;
  } catch (error) {
    await teardown().catch(() => {});
    throw error;
  }
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function unreachable(service: string, where: string, cause: Error): Error {
  return new Error(
    `${service} is not reachable at ${where} (${cause.message}). Start the local stack with ` +
      "`bash scripts/stack.sh up`, start a Docker daemon, or point DATABASE_URL / REDIS_URL / S3_ENDPOINT at running services.",
    { cause },
  );
}

async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    // FORCE: connections a test forgot to close must not keep the database alive.
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function pingRedis(redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw unreachable("Redis", redisUrl, error as Error);
  } finally {
    redis.disconnect();
  }
}

async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

function s3Client(services: Services): S3Client {
  return new S3Client({
    endpoint: services.s3.endpoint,
    region: services.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: services.s3.accessKeyId, secretAccessKey: services.s3.secretAccessKey },
  });
}

async function deleteBucket(s3: S3Client, bucket: string): Promise<void> {
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
    const objects = (page.Contents ?? []).map(({ Key }) => ({ Key }));
    if (objects.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    }
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
