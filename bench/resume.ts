import type { Job, JobSpec } from "@plateau/contract";
import { until } from "../test/until";
import { iris, regression, throughService } from "./overhead";
import { median, ms, progress, type Row } from "./report";
import type { Service, Stack } from "./stack";

// Even, so each side goes first equally often.
const ROUNDS = 4;
/** The bound on a killed worker's job: trained again by another worker within this. */
const KILL_TO_TRAINING_MS = 15_000;

/** Polling the API for a job's progress: every 50 ms, two minutes at most. */
const PATIENCE = { timeoutMs: 120_000, everyMs: 50 };

const withResume = (spec: JobSpec, resume: JobSpec["resume"]): JobSpec => ({ ...spec, resume });

/** The same job with resume snapshots as configured vs none (`resume.enabled: false`), alternating. */
async function snapshotCost(
  stack: Stack,
  name: string,
  spec: JobSpec,
  resume: JobSpec["resume"],
): Promise<Row> {
  const withSnapshots: number[] = [];
  const without: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const on = async () =>
      withSnapshots.push((await throughService(stack, withResume(spec, resume))).trainingMs);
    const off = async () =>
      without.push((await throughService(stack, withResume(spec, { enabled: false }))).trainingMs);
    for (const step of round % 2 === 0 ? [on, off] : [off, on]) await step();
    progress(
      `${name} round ${round + 1}/${ROUNDS}: with ${ms(withSnapshots.at(-1)!)}, without ${ms(without.at(-1)!)}`,
    );
  }
  return {
    benchmark: "resume",
    measure: `${name}: training time with resume snapshots vs none (resume.enabled false), median of ${ROUNDS}`,
    plateau: ms(median(withSnapshots)),
    baseline: ms(median(without)),
    ratio: median(withSnapshots) / median(without),
  };
}

/** Submit → first epoch end on an idle worker, vs kill -9 of the worker training it → first epoch end of the next attempt. */
async function killToTraining(stack: Stack, workers: Service[]): Promise<Row> {
  const { client } = stack;
  const spec = { ...regression.spec, name: "bench-resume", fit: { ...regression.spec.fit, epochs: 30 } };
  // The job's epoch is its last finished one; a resumed attempt first rolls it back to before its snapshot.
  const trained = (id: string, attempts: number) =>
    until(
      `job ${id} to train an epoch in attempt ${attempts}`,
      async () => {
        const job = await client.getJob(id);
        const attempt = job.attempts[attempts - 1];
        const from = attempts === 1 ? 0 : attempt?.resumed_from_epoch;
        return attempt && typeof from === "number" && job.epoch !== null && job.epoch >= from ? job : null;
      },
      PATIENCE,
    );
  const submittedAt = Date.now();
  const { id } = await client.submitJob(spec);
  const first = await trained(id, 1);
  const coldMs = Date.now() - submittedAt;
  await until("a few epochs", async () => ((await client.getJob(id)).epoch ?? 0) >= 3, PATIENCE);
  const victim = workers.find((worker) => first.worker?.endsWith(`:${worker.pid}`));
  if (!victim) throw new Error(`no bench worker is ${first.worker}`);
  const killedAt = Date.now();
  process.kill(victim.pid, "SIGKILL");
  const resumed: Job = await trained(id, 2);
  const resumeMs = Date.now() - killedAt;
  const at = resumed.attempts[1];
  progress(
    `kill -9 → another worker took the job over after ${ms(Date.parse(at.started_at) - killedAt)} (the ` +
      `queue's lock lapsed) and trained an epoch again after ${ms(resumeMs)}, from epoch ` +
      `${at.resumed_from_epoch} batch ${at.resumed_from_batch}; a fresh submission's first epoch took ${ms(coldMs)}`,
  );
  await client.cancel(id);
  return {
    benchmark: "resume",
    measure: `kill -9 of the worker training a job → its first epoch end in the next attempt (goal ≤ ${KILL_TO_TRAINING_MS / 1000} s) vs submit → first epoch end on an idle worker`,
    plateau: ms(resumeMs),
    baseline: ms(coldMs),
    ratio: resumeMs / coldMs,
  };
}

/**
 * What durability costs: training time with resume snapshots (every epoch end, and every 10 batches) vs
 * the same job with none, and how soon a killed worker's job trains again.
 */
export async function resume(stack: Stack): Promise<Row[]> {
  // One worker while costs are compared, so both sides run on the same warm trainer.
  const workers = [await stack.startWorker()];
  try {
    progress("warming up (one epoch of each workload)");
    for (const { spec } of [iris, regression]) {
      await throughService(stack, { ...spec, fit: { ...spec.fit, epochs: 1 } });
    }
    const rows = [
      await snapshotCost(stack, iris.name, iris.spec, {}),
      await snapshotCost(stack, regression.name, regression.spec, {}),
      await snapshotCost(stack, `${regression.name}, a snapshot every 10 batches`, regression.spec, {
        every_n_batches: 10,
      }),
    ];
    workers.push(await stack.startWorker());
    rows.push(await killToTraining(stack, workers));
    return rows;
  } finally {
    await Promise.allSettled(workers.map((worker) => worker.stop()));
  }
}
