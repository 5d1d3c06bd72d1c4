import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureDatabase, migrate } from "../../libs/db/src/migrate";
import { sparePort } from "./ports";
import { alive, signal, stopPid, track, untrack } from "./processes";
import { waitFor } from "./wait";

const run = promisify(execFile);

/** A PostgreSQL cluster of the test's own, with Plateau's database migrated. */
export interface TestPostgres {
  /** Plateau's database on it (DATABASE_URL). */
  url: string;
  port: number;
  /** The postmaster's PID while it runs, else 0. */
  readonly pid: number;
  /** `pg_ctl stop -m fast` (SIGKILL if it does not stop): clients see their connections closed, then refused. */
  stop(): Promise<void>;
  /** Starts the same cluster again: the data is kept. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

const DATABASE = "plateau";
const TIMEOUT_S = 30;

/**
 * initdb refuses to run as root, and tests may (in CI they do): then every PostgreSQL binary runs as
 * the `postgres` OS user through runuser, in a temp directory that user owns. The Unix socket goes in
 * that directory too, never in /var/run/postgresql, so nothing is shared with the machine's cluster.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const port = await sparePort();
  const root = await mkdtemp(join(tmpdir(), "plateau-fault-pg-"));
  const data = join(root, "data");
  const logFile = join(root, "server.log");
  if (asRoot) {
    const [uid, gid] = await Promise.all(
      ["-u", "-g"].map(async (flag) => Number((await run("id", [flag, "postgres"])).stdout)),
    );
    await chown(root, uid, gid);
  }
  const pg = (tool: string, args: string[]) => {
    const [command, prefix] = asRoot
      ? ["runuser", ["-u", "postgres", "--", join(bin, tool)]]
      : [join(bin, tool), []];
    return run(command, [...prefix, ...args], { cwd: root, timeout: TIMEOUT_S * 1000 }).catch(
      (error: Error) => {
        const log = existsSync(logFile) ? `\n${readFileSync(logFile, "utf8").slice(-4000)}` : "";
        throw new Error(`${tool} failed: ${error.message}${log}`);
      },
    );
  };
  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]) || 0;
    } catch {
      return 0;
    }
  };
  let pid = 0;

  const start = async () => {
    if (pid && alive(pid)) return;
    const settings = [
      `-p ${port}`,
      `-k ${root}`,
      "-c listen_addresses=127.0.0.1",
      // Durability is not under test here, and the machine is shared: skip the fsyncs.
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
    ].join(" ");
    await pg("pg_ctl", ["start", "-D", data, "-l", logFile, "-w", "-t", String(TIMEOUT_S), "-o", settings]);
    pid = postmasterPid();
    if (pid) track(pid);
  };
  const stop = async () => {
    if (!pid || !alive(pid)) return;
    const stopping = pid;
    await pg("pg_ctl", ["stop", "-D", data, "-m", "fast", "-w", "-t", "10"]).catch(() =>
      signal(stopping, "SIGKILL"),
    );
    await stopPid(stopping, 5_000);
    untrack(stopping);
    pid = 0;
  };
  const postgres: TestPostgres = {
    url: `postgresql://postgres@127.0.0.1:${port}/${DATABASE}`,
    port,
    get pid() {
      return pid;
    },
    start,
    stop,
    close: async () => {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await pg("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ]);
    await start();
    await waitFor("the new cluster to accept connections", () => ensureDatabase(postgres.url), {
      timeoutMs: TIMEOUT_S * 1000,
      intervalMs: 200,
    });
    await migrate(postgres.url);
  } catch (error) {
    await postgres.close();
    throw error;
  }
  return postgres;
}

/** The newest installed PostgreSQL's binaries (Debian's layout), else whatever PATH holds. */
function postgresBinDir(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((version) => existsSync(join(base, version, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length > 0) return join(base, versions[0], "bin");
  const fromPath = (process.env.PATH ?? "").split(":").find((dir) => existsSync(join(dir, "initdb")));
  if (!fromPath) throw new Error("PostgreSQL's initdb is not installed (apt-get install postgresql)");
  return fromPath;
}
