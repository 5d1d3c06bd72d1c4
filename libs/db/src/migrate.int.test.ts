import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_MIGRATIONS_DIR, ensureDatabase, MigrationError, migrate, readMigrations } from "./migrate";

// Each test migrates a scratch database of its own on the run's server, dropped afterwards.
const scratch: string[] = [];
const dirs: string[] = [];

async function scratchDatabase(): Promise<string> {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${url.pathname.slice(1)}_m${randomBytes(4).toString("hex")}`;
  await ensureDatabase(url.toString());
  scratch.push(url.toString());
  return url.toString();
}

async function query<T extends pg.QueryResultRow>(databaseUrl: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** A copy of the real migrations plus extra ones, so tests can add a failing migration. */
async function migrationsWith(extra: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "plateau-migrations-"));
  dirs.push(dir);
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

afterEach(async () => {
  const admin = new URL(process.env.DATABASE_URL!);
  admin.pathname = "/postgres";
  for (const url of scratch.splice(0)) {
    await query(admin.toString(), `DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("migrate", () => {
  it("applies every migration to an empty database and records them as Prisma does", async () => {
    const url = await scratchDatabase();
    const local = await readMigrations();
    const result = await migrate(url);
    expect(result.applied).toEqual(local.map((m) => m.name));

    const rows = await query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      applied_steps_count: number;
      logs: string | null;
    }>(url, 'SELECT * FROM "_prisma_migrations" ORDER BY started_at');
    expect(rows.map((r) => r.migration_name)).toEqual(local.map((m) => m.name));
    for (const row of rows) {
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
    }
    const tables = await query<{ tablename: string }>(
      url,
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(tables.map((t) => t.tablename)).toEqual(
      expect.arrayContaining(["_prisma_migrations", "jobs", "job_events", "checkpoints", "datasets"]),
    );
  });

  it("records the checksum sha256sum computes for the raw migration.sql", async () => {
    const url = await scratchDatabase();
    await migrate(url);
    const rows = await query<{ migration_name: string; checksum: string }>(
      url,
      'SELECT migration_name, checksum FROM "_prisma_migrations"',
    );
    for (const row of rows) {
      const file = join(DEFAULT_MIGRATIONS_DIR, row.migration_name, "migration.sql");
      const [digest] = execFileSync("sha256sum", [file], { encoding: "utf8" }).split(/\s+/);
      expect(row.checksum).toBe(digest);
    }
  });

  it("does nothing on a second run", async () => {
    const url = await scratchDatabase();
    await migrate(url);
    const before = await query(url, 'SELECT * FROM "_prisma_migrations" ORDER BY id');
    const second = await migrate(url);
    expect(second).toEqual({ applied: [], warnings: [] });
    expect(await query(url, 'SELECT * FROM "_prisma_migrations" ORDER BY id')).toEqual(before);
  });

  it("stops at a failing migration, rolls its script back, and blocks later deploys until resolved", async () => {
    const url = await scratchDatabase();
    const dir = await migrationsWith({
      "29990101000000_broken": 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT * FROM "no_such_table";\n',
      "29990102000000_after": 'CREATE TABLE "after_broken" ("id" INTEGER);\n',
    });

    const failure = await migrate(url, { migrationsDir: dir }).catch((e) => e);
    expect(failure).toBeInstanceOf(MigrationError);
    expect(failure.code).toBe("P3018");
    expect(failure.message).toContain("29990101000000_broken");
    expect(failure.message).toContain('relation "no_such_table" does not exist');

    const [row] = await query<{ finished_at: Date | null; logs: string }>(
      url,
      `SELECT finished_at, logs FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken'`,
    );
    expect(row.finished_at).toBeNull();
    expect(row.logs).toContain("no_such_table");
    const leftovers = await query(
      url,
      "SELECT tablename FROM pg_tables WHERE tablename IN ('half_done', 'after_broken')",
    );
    expect(leftovers).toEqual([]);

    const blocked = await migrate(url, { migrationsDir: dir }).catch((e) => e);
    expect(blocked).toBeInstanceOf(MigrationError);
    expect(blocked.code).toBe("P3009");
    expect(blocked.message).toMatch(/The `29990101000000_broken` migration started at .* failed/);

    // What `prisma migrate resolve --rolled-back` does; then the fixed migration applies.
    await query(url, `UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE finished_at IS NULL`);
    await writeFile(
      join(dir, "29990101000000_broken", "migration.sql"),
      'CREATE TABLE "half_done" ("id" INTEGER);\n',
    );
    const resolved = await migrate(url, { migrationsDir: dir });
    expect(resolved.applied).toEqual(["29990101000000_broken", "29990102000000_after"]);
  });

  it("refuses a non-empty schema that has no _prisma_migrations table", async () => {
    const url = await scratchDatabase();
    await query(url, 'CREATE TABLE "legacy" ("id" INTEGER)');
    const refusal = await migrate(url).catch((e) => e);
    expect(refusal).toBeInstanceOf(MigrationError);
    expect(refusal.code).toBe("P3005");
    expect(refusal.message).toContain("legacy");
    expect(await query(url, "SELECT to_regclass('_prisma_migrations') AS t")).toEqual([{ t: null }]);
  });

  it("warns when an applied migration was edited afterwards", async () => {
    const url = await scratchDatabase();
    const dir = await migrationsWith({});
    await migrate(url, { migrationsDir: dir });
    const [first] = await readMigrations(dir);
    await writeFile(join(dir, first.name, "migration.sql"), `${first.sql}\n-- edited\n`);
    const logged: string[] = [];
    const result = await migrate(url, { migrationsDir: dir, log: (m) => logged.push(m) });
    expect(result.applied).toEqual([]);
    expect(result.warnings).toEqual([`The migration \`${first.name}\` was modified after it was applied.`]);
    expect(logged).toContain(`warning: ${result.warnings[0]}`);
  });

  it("lets one of two concurrent runs apply each migration", async () => {
    const url = await scratchDatabase();
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    expect([...a.applied, ...b.applied]).toEqual((await readMigrations()).map((m) => m.name));
  });
});
