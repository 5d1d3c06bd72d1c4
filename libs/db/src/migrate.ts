import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/**
 * Applies prisma/migrations the way `prisma migrate deploy` does, without Prisma's native schema
 * engine (which the CLI downloads and which cannot be fetched on every machine). It keeps Prisma's
 * own `_prisma_migrations` table row for row, so `prisma migrate deploy/status` on a machine that
 * has the engine agrees with it and can take over.
 *
 * New migration SQL: where the schema engine is available, `npx prisma migrate dev --create-only
 * --name <what>`; otherwise write `prisma/migrations/<UTC yyyymmddHHMMSS>_<what>/migration.sql` by
 * hand in Prisma's style (or generate it with Prisma 6.19's wasm schema engine — `engine: "js"` plus
 * `@prisma/adapter-pg` in an isolated dev tool). The drift test (schema-drift.int.test.ts) fails when
 * the migrated database and schema.prisma disagree.
 */

/**
 * Where prisma/migrations is relative to the running code: one folder up from a bundle in dist/, three
 * up from these sources in libs/db/src.
 */
const MIGRATIONS_DIRS = ["../prisma/migrations", "../../../prisma/migrations"].map((path) =>
  fileURLToPath(new URL(path, import.meta.url)),
);
export const DEFAULT_MIGRATIONS_DIR = MIGRATIONS_DIRS.find((dir) => existsSync(dir)) ?? MIGRATIONS_DIRS[0];

/** Prisma's own lock key, so this runner and `prisma migrate` exclude each other. */
const ADVISORY_LOCK_KEY = 72707369;
const RESOLVE_HINT =
  "Read more about how to resolve migration issues in a production database: https://pris.ly/d/migrate-resolve";

export interface Migration {
  name: string;
  sql: string;
  /** Lower-case hex SHA-256 of the raw migration.sql bytes, as Prisma records it. */
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  warnings: string[];
}

export interface MigrateOptions {
  migrationsDir?: string;
  log?: (message: string) => void;
}

export class MigrationError extends Error {
  constructor(
    /** Prisma's error code for the same situation (P3005, P3009, P3018). */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  started_at: Date;
}

function checksumOf(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Migration folders in Prisma's order: lexicographic by folder name; other entries are ignored. */
export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const bytes = await readFile(join(dir, name, "migration.sql")).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (bytes) migrations.push({ name, sql: bytes.toString("utf8"), checksum: checksumOf(bytes) });
  }
  return migrations;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

/** Applies every pending migration in order; throws a MigrationError when it must not or cannot. */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const migrations = await readMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [ADVISORY_LOCK_KEY]);
    try {
      return await deploy(client, migrations, log);
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [ADVISORY_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function deploy(
  client: pg.Client,
  migrations: Migration[],
  log: (message: string) => void,
): Promise<MigrateResult> {
  await ensureBookkeeping(client);
  const { rows } = await client.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at, started_at
       FROM "_prisma_migrations" ORDER BY started_at`,
  );

  const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
  if (failed.length > 0) {
    throw new MigrationError(
      "P3009",
      `migrate found failed migrations in the target database, new migrations will not be applied. ${RESOLVE_HINT}\n` +
        failed
          .map((r) => `The \`${r.migration_name}\` migration started at ${r.started_at.toISOString()} failed`)
          .join("\n") +
        "\nFix the database by hand, then mark the row rolled back (prisma migrate resolve --rolled-back <name>, " +
        "or UPDATE \"_prisma_migrations\" SET rolled_back_at = now() WHERE migration_name = '<name>').",
    );
  }

  const warnings = driftWarnings(migrations, rows);
  for (const warning of warnings) log(`warning: ${warning}`);

  const finished = new Set(rows.filter((r) => r.finished_at !== null).map((r) => r.migration_name));
  const applied: string[] = [];
  for (const migration of migrations.filter((m) => !finished.has(m.name))) {
    await apply(client, migration);
    applied.push(migration.name);
    log(`applied ${migration.name}`);
  }
  if (applied.length === 0) log("No pending migrations to apply.");
  return { applied, warnings };
}

/** Creates `_prisma_migrations`, refusing (like Prisma's P3005) a schema that already holds objects. */
async function ensureBookkeeping(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ has_table: boolean; objects: string[] }>(
    `SELECT to_regclass(format('%I._prisma_migrations', current_schema())) IS NOT NULL AS has_table,
            ARRAY(
              SELECT c.relname::text FROM pg_class c
               WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r','p','v','m','S','f')
              UNION ALL
              SELECT t.typname::text FROM pg_type t
               WHERE t.typnamespace = current_schema()::regnamespace AND t.typtype IN ('e','d')
              ORDER BY 1
            ) AS objects`,
  );
  const { has_table, objects } = rows[0];
  if (has_table) return;
  if (objects.length > 0) {
    throw new MigrationError(
      "P3005",
      `The database schema is not empty (it holds ${objects.slice(0, 5).join(", ")}${objects.length > 5 ? ", …" : ""}) ` +
        "and has no _prisma_migrations table, so it was not created by these migrations. Migrate an empty " +
        "database, or baseline this one: https://pris.ly/d/migrate-baseline",
    );
  }
  await client.query(CREATE_TABLE);
}

/** What `prisma migrate` reports about history that no longer matches the migrations folder. */
function driftWarnings(migrations: Migration[], rows: AppliedRow[]): string[] {
  const local = new Map(migrations.map((m) => [m.name, m]));
  const warnings: string[] = [];
  for (const row of rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null)) {
    const migration = local.get(row.migration_name);
    if (!migration) {
      warnings.push(
        `The migration \`${row.migration_name}\` is applied to the database but missing from the local migrations directory.`,
      );
    } else if (migration.checksum !== row.checksum) {
      warnings.push(`The migration \`${row.migration_name}\` was modified after it was applied.`);
    }
  }
  return warnings;
}

/**
 * The row is committed before the script runs, so a crash mid-script leaves an unfinished row that
 * blocks later deploys, as with Prisma. The script and the finished_at update commit together, so a
 * migration is never applied without being recorded.
 */
async function apply(client: pg.Client, migration: Migration): Promise<void> {
  const id = randomUUID();
  await client.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ($1, $2, $3, now(), 0)`,
    [id, migration.checksum, migration.name],
  );
  try {
    await client.query("BEGIN");
    await client.query(migration.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    const dbError = error as pg.DatabaseError;
    const logs = `Migration name: ${migration.name}\n\nDatabase error code: ${dbError.code ?? "unknown"}\n\nDatabase error:\n${dbError.message}`;
    await client.query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, logs]);
    throw new MigrationError(
      "P3018",
      `A migration failed to apply. New migrations cannot be applied before the error is recovered from. ${RESOLVE_HINT}\n\n${logs}`,
    );
  }
}

/**
 * Creates the database named in `databaseUrl` when it does not exist, connecting to the server's
 * `postgres` maintenance database to do so. Returns whether it was created.
 */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) throw new Error(`DATABASE_URL names no database: ${redact(databaseUrl)}`);
  url.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return false;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((error: pg.DatabaseError) => {
      // 42P04: created concurrently by another process since the check, which is what we wanted.
      if (error.code !== "42P04") throw error;
    });
    return true;
  } finally {
    await admin.end();
  }
}

/** The URL without its password, for messages. */
export function redact(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "<unparseable URL>";
  }
}
