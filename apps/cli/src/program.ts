import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { PlateauClient } from "@plateau/client";
import { JOB_STATUSES, type JobSpec, type JobStatus, type SimulationInput } from "@plateau/contract";
import { Command, InvalidArgumentError, Option } from "commander";
import { followJob, type Output } from "./follow";
import { bestLines, datasetLines, jobLines, jobTable, simulationLines } from "./format";

export interface CliContext {
  /** The API URL when --api is not given (main.ts: PLATEAU_API_URL or the local default). */
  defaultApi: string;
  out: Output;
  /** Ctrl-C: stops following (the job keeps running). */
  signal?: AbortSignal;
  /** A followed job that did not succeed makes the process exit non-zero. */
  setExitCode(code: number): void;
}

/** A mistake in the command line or its files, explained without a stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
}

async function readText(path: string, what: string): Promise<string> {
  return readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      `cannot read ${what} ${path}: ${error.code === "ENOENT" ? "no such file" : error.message}`,
    );
  });
}

async function readJson<T>(path: string, what: string): Promise<T> {
  const text = await readText(path, what);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("must be a positive integer.");
  return parsed;
}

/** The `plateau` command line; every command talks to the HTTP API through @plateau/client. */
export function buildProgram(context: CliContext): Command {
  const { out } = context;
  const print = (lines: string[] | string) => {
    for (const line of [lines].flat()) out.write(`${line}\n`);
  };
  const program = new Command("plateau")
    .description("Submit and follow Plateau training jobs.")
    .addOption(
      new Option("--api <url>", "Plateau API base URL (env PLATEAU_API_URL)").default(context.defaultApi),
    )
    .option("--json", "print the API's JSON response instead of text")
    .addHelpText("after", "\nEnvironment:\n  PLATEAU_API_URL  the API's base URL when --api is not given")
    .showHelpAfterError()
    .configureOutput({ writeOut: (text) => out.write(text) });

  /** The client, the global options, and a printer that honours --json. */
  const setup = (command: Command) => {
    const options = command.optsWithGlobals<{ api: string; json?: boolean }>();
    const client = new PlateauClient({ baseUrl: options.api });
    const show = (value: unknown, lines: () => string[]) =>
      print(options.json ? JSON.stringify(value, null, 2) : lines());
    return { client, show, json: options.json === true };
  };

  const follow = async (client: PlateauClient, id: string) => {
    const job = await followJob(client, id, out, context.signal);
    if (job.status !== "succeeded") context.setExitCode(1);
  };

  program
    .command("submit")
    .description("submit a job spec (JSON, Keras field names); prints the job id")
    .argument("<spec.json>", "the job spec file")
    .option("-f, --follow", "follow the job until it ends")
    .action(async (path: string, options: { follow?: boolean }, command: Command) => {
      const { client, show, json } = setup(command);
      const job = await client.submitJob(await readJson<JobSpec>(path, "job spec"));
      show(job, () => [`submitted job ${job.id} (${job.name}): ${job.status}`]);
      if (options.follow) await follow(client, job.id);
      else if (!json) print(`follow it with: plateau follow ${job.id}`);
    });

  program
    .command("follow")
    .description("stream a job's epochs and callback decisions until it ends; exits 1 unless it succeeded")
    .argument("<id>", "job id")
    .action(async (id: string, _options: unknown, command: Command) => {
      await follow(setup(command).client, id);
    });

  /** A command on one job: fetch something about it, then show it. */
  const jobCommand = <T>(
    name: string,
    description: string,
    call: (client: PlateauClient, id: string) => Promise<T>,
    lines: (value: T, id: string) => string[],
  ) =>
    program
      .command(name)
      .description(description)
      .argument("<id>", "job id")
      .action(async (id: string, _options: unknown, command: Command) => {
        const { client, show } = setup(command);
        const value = await call(client, id);
        show(value, () => lines(value, id));
      });

  jobCommand("status", "a job's status, progress and best value so far", (c, id) => c.getJob(id), jobLines);
  program
    .command("list")
    .description("jobs, newest first")
    .addOption(new Option("--status <status>", "only jobs with this status").choices(JOB_STATUSES))
    .option("--limit <n>", "jobs per page (at most 100)", positiveInteger, 20)
    .option("--cursor <cursor>", "next_cursor printed by the previous page")
    .action(async (options: { status?: JobStatus; limit: number; cursor?: string }, command: Command) => {
      const { client, show } = setup(command);
      const page = await client.listJobs({
        status: options.status,
        limit: options.limit,
        cursor: options.cursor,
      });
      show(page, () => [
        ...(page.items.length > 0 ? jobTable(page.items) : ["no jobs"]),
        ...(page.next_cursor ? [`more: plateau list --cursor ${page.next_cursor}`] : []),
      ]);
    });

  jobCommand(
    "cancel",
    "cancel a queued or running job (a running job stops at its next batch end)",
    (c, id) => c.cancel(id),
    (result, id) => [
      result.status === "cancelled"
        ? `job ${id} cancelled before it started`
        : `cancel requested: job ${id} stops at its next batch end (plateau follow ${id} to watch)`,
    ],
  );

  jobCommand(
    "best",
    "the best checkpoint: its monitored value and a model_url for tf.loadLayersModel",
    (c, id) => c.bestCheckpoint(id),
    bestLines,
  );

  program
    .command("upload")
    .description("upload a CSV or JSONL file as a dataset; prints its id for job specs")
    .argument("<file>", "a .csv or .jsonl file")
    .action(async (path: string, _options: unknown, command: Command) => {
      const { client, show } = setup(command);
      const content = await readText(path, "dataset file");
      const dataset = await client.uploadDataset(content, { filename: basename(path) });
      show(dataset, () => datasetLines(dataset));
    });

  program
    .command("simulate")
    .description(
      "dry-run callbacks over a recorded metric sequence ({callbacks, optimizer?, epochs: [{logs}]})",
    )
    .argument("<input.json>", "the simulation input")
    .action(async (path: string, _options: unknown, command: Command) => {
      const { client, show } = setup(command);
      const result = await client.simulate(await readJson<SimulationInput>(path, "simulation input"));
      show(result, () => simulationLines(result));
    });

  return program;
}
