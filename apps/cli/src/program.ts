import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { ApiError, PlateauClient } from "@plateau/client";
import { JOB_STATUSES, type JobSpec, type JobStatus, type SimulationInput } from "@plateau/contract";
import { Command, InvalidArgumentError, Option } from "commander";
import { type KeyKind, type ResolvedKey, refusalHelp, resolveKey } from "./credentials";
import { followJob, type Output } from "./follow";
import {
  bestLines,
  createdKeyLines,
  datasetLines,
  fileTable,
  finalModelLines,
  jobLines,
  jobTable,
  keyTable,
  revokedKeyLines,
  simulationLines,
  tenantLines,
} from "./format";

export interface CliContext {
  /** The API URL when --api is not given (main.ts: PLATEAU_API_URL or the local default). */
  defaultApi: string;
  /** Where PLATEAU_API_KEY and ADMIN_API_KEY are read (main.ts: process.env). */
  env: Record<string, string | undefined>;
  /** The directory whose .stack/api-key and .stack/admin-key are read for a local API (main.ts: the cwd). */
  cwd: string;
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
  return readFile(path, "utf8").catch(unreadable(path, what));
}

function unreadable(path: string, what: string) {
  return (error: NodeJS.ErrnoException): never => {
    throw new UsageError(
      `cannot read ${what} ${path}: ${error.code === "ENOENT" ? "no such file" : error.message}`,
    );
  };
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
    .option("--api-key <key>", "a tenant's API key (env PLATEAU_API_KEY, or .stack/api-key for a local API)")
    .option(
      "--admin-key <key>",
      "the API's ADMIN_API_KEY, for tenants and keys (env ADMIN_API_KEY, or .stack/admin-key)",
    )
    .option("--json", "print the API's JSON response instead of text")
    .addHelpText(
      "after",
      [
        "",
        "Environment:",
        "  PLATEAU_API_URL  the API's base URL when --api is not given",
        "  PLATEAU_API_KEY  the tenant key when --api-key is not given",
        "  ADMIN_API_KEY    the admin key when --admin-key is not given (tenants, keys commands)",
        "",
        "Key files: when neither is given and the API is on this machine (127.0.0.1, localhost), the CLI",
        "reads .stack/api-key and .stack/admin-key in the current directory; npm run dev writes both.",
      ].join("\n"),
    )
    .showHelpAfterError()
    .configureOutput({ writeOut: (text) => out.write(text) });

  /** The key the running command sent, so that a 401 can say which one was refused and what to do. */
  let sent: ResolvedKey | undefined;

  /** The client (with the tenant key, or the admin key), the global options, and a printer that honours --json. */
  const setup = (command: Command, kind: KeyKind = "tenant") => {
    const options = command.optsWithGlobals<{
      api: string;
      apiKey?: string;
      adminKey?: string;
      json?: boolean;
    }>();
    sent = resolveKey({
      kind,
      flag: kind === "admin" ? options.adminKey : options.apiKey,
      env: context.env,
      cwd: context.cwd,
      api: options.api,
    });
    const client = new PlateauClient({ baseUrl: options.api, apiKey: sent.key });
    const show = (value: unknown, lines: () => string[]) =>
      print(options.json ? JSON.stringify(value, null, 2) : lines());
    return { client, show, json: options.json === true };
  };

  /** An action whose 401 is explained: which key was sent (or none found), and where to give one. */
  const act =
    <A extends unknown[]>(action: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await action(...args);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401 && sent) {
          throw new UsageError([error.message, ...refusalHelp(sent)].join("\n"));
        }
        throw error;
      }
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
    .action(
      act(async (path: string, options: { follow?: boolean }, command: Command) => {
        const { client, show, json } = setup(command);
        const job = await client.submitJob(await readJson<JobSpec>(path, "job spec"));
        show(job, () => [`submitted job ${job.id} (${job.name}): ${job.status}`]);
        if (options.follow) await follow(client, job.id);
        else if (!json) print(`follow it with: plateau follow ${job.id}`);
      }),
    );

  program
    .command("follow")
    .description("stream a job's epochs and callback decisions until it ends; exits 1 unless it succeeded")
    .argument("<id>", "job id")
    .action(
      act(async (id: string, _options: unknown, command: Command) => {
        await follow(setup(command).client, id);
      }),
    );

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
      .action(
        act(async (id: string, _options: unknown, command: Command) => {
          const { client, show } = setup(command);
          const value = await call(client, id);
          show(value, () => lines(value, id));
        }),
      );

  jobCommand("status", "a job's status, progress and best value so far", (c, id) => c.getJob(id), jobLines);
  program
    .command("list")
    .description("jobs, newest first")
    .addOption(new Option("--status <status>", "only jobs with this status").choices(JOB_STATUSES))
    .option("--limit <n>", "jobs per page (at most 100)", positiveInteger, 20)
    .option("--cursor <cursor>", "next_cursor printed by the previous page")
    .action(
      act(async (options: { status?: JobStatus; limit: number; cursor?: string }, command: Command) => {
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
      }),
    );

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

  jobCommand(
    "model",
    "the model the job ended with: a model_url for tf.loadLayersModel",
    (c, id) => c.finalModel(id),
    finalModelLines,
  );

  jobCommand(
    "files",
    "the files the job's callbacks wrote (CSVLogger); GET /v1/jobs/<id>/files/<name> downloads one",
    (c, id) => c.files(id),
    (list) => fileTable(list.items),
  );

  program
    .command("upload")
    .description("upload a CSV, JSONL, .npy or .npz file as a dataset; prints its id for job specs")
    .argument("<file>", "a .csv, .jsonl, .npy or .npz file")
    .action(
      act(async (path: string, _options: unknown, command: Command) => {
        const { client, show } = setup(command);
        // NumPy files are bytes, sent as they are.
        const content = /\.np[yz]$/i.test(path)
          ? new Blob([await readFile(path).catch(unreadable(path, "dataset file"))])
          : await readText(path, "dataset file");
        const dataset = await client.uploadDataset(content, { filename: basename(path) });
        show(dataset, () => datasetLines(dataset));
      }),
    );

  program
    .command("simulate")
    .description(
      "dry-run callbacks over a recorded metric sequence ({callbacks, optimizer?, epochs: [{logs}]})",
    )
    .argument("<input.json>", "the simulation input")
    .action(
      act(async (path: string, _options: unknown, command: Command) => {
        const { client, show } = setup(command);
        const result = await client.simulate(await readJson<SimulationInput>(path, "simulation input"));
        show(result, () => simulationLines(result));
      }),
    );

  const tenants = program
    .command("tenants")
    .description("tenants (needs the admin key: --admin-key or ADMIN_API_KEY)");
  tenants
    .command("create")
    .description("create a tenant; prints its id, for plateau keys create --tenant <id>")
    .argument("<name>", "a unique name: letters, digits, '_', '.', '-'")
    .action(
      act(async (name: string, _options: unknown, command: Command) => {
        const { client, show } = setup(command, "admin");
        const tenant = await client.createTenant(name);
        show(tenant, () => tenantLines(tenant));
      }),
    );

  const keys = program
    .command("keys")
    .description("a tenant's API keys (needs the admin key: --admin-key or ADMIN_API_KEY)");
  keys
    .command("create")
    .description("create an API key for a tenant and print it: the only time it is shown")
    .requiredOption("--tenant <id>", "the tenant's id (plateau tenants create prints it)")
    .option("--name <name>", "what the key is for, shown by keys list")
    .action(
      act(async (options: { tenant: string; name?: string }, command: Command) => {
        const { client, show } = setup(command, "admin");
        const created = await client.createApiKey(options.tenant, options.name ? { name: options.name } : {});
        show(created, () => createdKeyLines(created));
      }),
    );
  keys
    .command("list")
    .description("a tenant's keys: id, prefix, name, created, last used, revoked (never the keys themselves)")
    .requiredOption("--tenant <id>", "the tenant's id")
    .action(
      act(async (options: { tenant: string }, command: Command) => {
        const { client, show } = setup(command, "admin");
        const list = await client.listApiKeys(options.tenant);
        show(list, () =>
          list.items.length > 0
            ? keyTable(list.items)
            : [`no keys; create one with: plateau keys create --tenant ${options.tenant}`],
        );
      }),
    );
  keys
    .command("revoke")
    .description("revoke a key: every request with it answers 401 from now on")
    .argument("<key-id>", "the key's id (plateau keys list shows it)")
    .action(
      act(async (id: string, _options: unknown, command: Command) => {
        const { client, show } = setup(command, "admin");
        const key = await client.revokeApiKey(id);
        show(key, () => revokedKeyLines(key));
      }),
    );

  return program;
}
