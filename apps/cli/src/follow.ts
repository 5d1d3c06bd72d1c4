import { ApiError, type PlateauClient } from "@plateau/client";
import { type Job, TERMINAL_STATUSES } from "@plateau/contract";
import cliProgress from "cli-progress";
import { bestLines, eventLine, num, outcomeLine } from "./format";

/** Where the CLI writes: stdout-like streams, so tests can capture them. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

interface Progress {
  /** Prints a line above the bar. */
  log(line: string): void;
  update(epochsDone: number, status: string): void;
  stop(): void;
}

/** A bar over epochs on a terminal; on a pipe or file just the lines, so logs stay readable. */
function progressOn(out: Output, epochs: number): Progress {
  if (!out.isTTY) {
    return { log: (line) => out.write(`${line}\n`), update: () => {}, stop: () => {} };
  }
  const bars = new cliProgress.MultiBar(
    {
      stream: out as NodeJS.WritableStream,
      format: " {bar} {value}/{total} epochs | {status}",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(epochs, 0, { status: "waiting for a worker" });
  return {
    log: (line) => bars.log(`${line}\n`),
    update: (value, status) => bar.update(value, { status }),
    stop: () => bars.stop(),
  };
}

/**
 * Follows a job live until it ends: one line per epoch and per callback decision, a progress bar on
 * a terminal, then why it ended and the best checkpoint's model_url. Returns the finished job.
 */
export async function followJob(
  client: PlateauClient,
  id: string,
  out: Output,
  signal?: AbortSignal,
): Promise<Job> {
  const job = await client.getJob(id);
  out.write(
    `following job ${id} (${job.name}), ${job.epochs} epochs — Ctrl-C stops following, not the job\n`,
  );
  const progress = progressOn(out, job.epochs);
  let epochsDone = job.epoch === null ? 0 : job.epoch + 1;
  try {
    const events = client.streamEvents(id, {
      signal,
      onReconnect: ({ attempt, error }) =>
        progress.log(
          `lost the event stream (${error instanceof Error ? error.message : error}); reconnect ${attempt}…`,
        ),
    });
    for await (const event of events) {
      if (event.type === "done") break;
      if (event.type === "epoch_end" || event.type === "batch_end") {
        if (event.type === "epoch_end" && event.epoch !== null) epochsDone = event.epoch + 1;
        const where = event.type === "batch_end" ? `batch ${event.batch}, ` : "";
        progress.update(epochsDone, `${where}loss ${num(event.data.logs.loss)}`);
      }
      // The terminal status is told once, with its reason, after the stream.
      if (event.type === "status" && TERMINAL_STATUSES.has(event.data.status)) continue;
      const line = eventLine(event, job.epochs);
      if (line !== null) progress.log(line);
    }
  } finally {
    progress.stop();
  }
  const finished = await client.getJob(id);
  out.write(`${outcomeLine(finished)}\n`);
  try {
    for (const line of bestLines(await client.bestCheckpoint(id))) out.write(`${line}\n`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    out.write(`no checkpoint: ${error.message}\n`);
  }
  return finished;
}
