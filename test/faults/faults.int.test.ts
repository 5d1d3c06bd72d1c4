import { connect } from "node:net";
import { HeadBucketCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { loadConfig } from "@plateau/config";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultProxy, faultHarness, sleep, type TestPostgres, type TestRedis, waitFor } from "./index";
import { alive } from "./processes";

const faults = faultHarness();

/** A client that neither queues nor retries, so a dead or frozen server shows at once. */
function impatientRedis(redis: TestRedis): Redis {
  return new Redis(redis.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    connectTimeout: 500,
    retryStrategy: () => null,
  });
}

async function redisSays(redis: TestRedis, ...command: [string, ...string[]]): Promise<unknown> {
  const client = impatientRedis(redis);
  client.on("error", () => {});
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}

describe("startRedis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await faults.redis();
  });

  it("runs a redis-server of its own that stops, starts again empty, freezes and thaws", async () => {
    expect(redis.port).not.toBe(6379);
    expect(await redisSays(redis, "SET", "k", "v")).toBe("OK");

    const frozen = impatientRedis(redis);
    await frozen.connect();
    redis.freeze();
    await expect(frozen.ping()).rejects.toThrow(/timed out/i);
    redis.thaw();
    expect(await frozen.ping()).toBe("PONG");
    frozen.disconnect();

    const pid = redis.pid;
    await redis.stop();
    expect(alive(pid)).toBe(false);
    await expect(redisSays(redis, "PING")).rejects.toThrow(/ECONNREFUSED|Connection is closed/);
    await redis.start();
    expect(redis.pid).not.toBe(pid);
    expect(await redisSays(redis, "GET", "k")).toBeNull();
  });

  it("with an append-only file keeps its data across a restart, and flushAndRestart loses it", async () => {
    const durable = await faults.redis({ appendonly: true });
    expect(await redisSays(durable, "SET", "k", "kept")).toBe("OK");
    await durable.stop();
    await durable.start();
    expect(await redisSays(durable, "GET", "k")).toBe("kept");
    await durable.flushAndRestart();
    expect(await redisSays(durable, "GET", "k")).toBeNull();
    expect(await redisSays(durable, "CONFIG", "GET", "appendonly")).toEqual(["appendonly", "yes"]);
  });
});

describe("startPostgres", () => {
  let postgres: TestPostgres;
  beforeAll(async () => {
    postgres = await faults.postgres();
  });

  async function query(sql: string): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: postgres.url, connectionTimeoutMillis: 2_000 });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  }

  it("runs a migrated cluster of its own that stops and starts with its data", async () => {
    expect(postgres.port).not.toBe(5432);
    const { rows } = await query(
      `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL`,
    );
    expect(rows[0].n).toBeGreaterThan(0);
    await query("CREATE TABLE fault_marker (id int); INSERT INTO fault_marker VALUES (7)");

    const pid = postgres.pid;
    await postgres.stop();
    expect(alive(pid)).toBe(false);
    await expect(query("SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
    await postgres.start();
    expect((await query("SELECT id FROM fault_marker")).rows).toEqual([{ id: 7 }]);
  });
});

describe("startFaultProxy", () => {
  const config = loadConfig();
  let proxy: FaultProxy;
  let s3: S3Client;
  beforeAll(async () => {
    proxy = await faults.proxy(config.S3_ENDPOINT);
    // Two attempts: a mode change closes open connections, and the SDK may already be writing on its
    // pooled one when the close arrives (a "socket hang up" it retries); the retry shows the new mode.
    s3 = new S3Client({
      endpoint: proxy.endpoint,
      region: config.S3_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY },
      maxAttempts: 2,
    });
  });
  afterAll(() => s3?.destroy());

  const head = () => s3.send(new HeadBucketCommand({ Bucket: config.S3_BUCKET }));

  it("passes requests to S3, then refuses, answers 500 with S3's error shape, blackholes, and passes again", async () => {
    expect((await head()).$metadata.httpStatusCode).toBe(200);

    await proxy.setMode("refuse");
    await expect(fetch(proxy.endpoint)).rejects.toMatchObject({ cause: { code: "ECONNREFUSED" } });

    await proxy.setMode("http500");
    const failure = await s3
      .send(
        new PutObjectCommand({ Bucket: config.S3_BUCKET, Key: "fault-proxy/x", Body: "x".repeat(100_000) }),
      )
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(S3ServiceException);
    expect(failure).toMatchObject({ name: "InternalError", $metadata: { httpStatusCode: 500 } });

    await proxy.setMode("blackhole");
    await expect(fetch(proxy.endpoint, { signal: AbortSignal.timeout(500) })).rejects.toThrow(
      /aborted|timeout/i,
    );

    await proxy.setMode("pass");
    expect((await head()).$metadata.httpStatusCode).toBe(200);
  });

  it("silences a connection that was open when the blackhole started, without closing it", async () => {
    await proxy.setMode("pass");
    const socket = connect(proxy.port, "127.0.0.1");
    try {
      let received = "";
      socket.on("data", (chunk) => {
        received += chunk.toString();
      });
      const request = `HEAD /${config.S3_BUCKET} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      socket.write(request);
      await waitFor("S3's answer through the proxy", () =>
        received.startsWith("HTTP/1.1") ? true : undefined,
      );

      await proxy.setMode("blackhole");
      received = "";
      socket.write(request);
      await sleep(500);
      expect(received).toBe("");
      expect(socket.destroyed).toBe(false);
    } finally {
      socket.destroy();
      await proxy.setMode("pass");
    }
  });
});
