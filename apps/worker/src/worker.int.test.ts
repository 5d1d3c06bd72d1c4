import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { loadConfig } from "@plateau/config";
import { createTrainingQueue, enqueueTraining, redisOptions, TRAINING_QUEUE } from "@plateau/queue";
import { BACKEND_ORDER } from "@plateau/training";
import { QueueEvents } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));
// The worker gets a queue of its own under the run's prefix, so no other test's worker takes our job.
const config = { ...loadConfig(), REDIS_PREFIX: `${loadConfig().REDIS_PREFIX}-worker` };
const queue = createTrainingQueue(config);
// How BullMQ reports a finished job; it reads the events stream over its own blocking connection.
const queueEvents = new QueueEvents(TRAINING_QUEUE, {
  connection: redisOptions(config, "subscriber"),
  prefix: config.REDIS_PREFIX,
});

afterAll(async () => {
  await queueEvents.close();
  await queue.close();
});

interface LogLine {
  msg: string;
  [key: string]: unknown;
}

/** Collects the child's pino lines and resolves when one matches. */
function logWatcher(child: ChildProcess) {
  const lines: LogLine[] = [];
  let buffered = "";
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split("\n");
    buffered = complete.pop()!;
    for (const text of complete.filter(Boolean)) {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.match(line))) waiter.resolve(line);
    }
  });
  return {
    lines,
    waitFor(msg: string, timeoutMs = 60_000): Promise<LogLine> {
      const seen = lines.find((line) => line.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no "${msg}" log line within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          match: (line) => line.msg === msg,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

describe("worker process", () => {
  it("logs the tfjs backend it loaded, takes a job from the queue, and exits cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", main], {
      env: { ...process.env, REDIS_PREFIX: config.REDIS_PREFIX, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const logs = logWatcher(child);
      const selected = await logs.waitFor("tfjs backend selected");
      expect(BACKEND_ORDER).toContain(selected.backend);
      expect(selected.tried).toEqual(expect.arrayContaining([`${selected.backend}: loaded`]));
      // On wasm, the kernels it lacks run on cpu, and the log says which.
      if (selected.backend === "wasm") expect(selected.cpuFallbacks).toContain("Conv2DBackpropFilter");
      await logs.waitFor("worker ready");

      await queueEvents.waitUntilReady();
      const jobId = randomUUID();
      await enqueueTraining(queue, jobId);
      const result = await (await queue.getJob(jobId))!.waitUntilFinished(queueEvents, 30_000);
      expect(result).toMatchObject({ jobId, backend: selected.backend, worker: selected.worker });

      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(logs.lines.at(-1)?.msg).toBe("shut down cleanly");
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`${(error as Error).message}\nworker stderr (end):\n${stderr.slice(-2000)}`);
    }
  });
});
