// `npm run migrate`: creates the database named in DATABASE_URL when missing, then applies
// prisma/migrations (see migrate.ts). Exits non-zero with Prisma's message when it cannot.
import { loadConfig } from "@plateau/config";
import { ensureDatabase, MigrationError, migrate, redact } from "./migrate";

const { DATABASE_URL } = loadConfig();
try {
  if (await ensureDatabase(DATABASE_URL)) console.log(`Created database ${redact(DATABASE_URL)}`);
  const { applied } = await migrate(DATABASE_URL, { log: (message) => console.log(message) });
  console.log(`${applied.length} migration(s) applied to ${redact(DATABASE_URL)}`);
} catch (error) {
  console.error(error instanceof MigrationError ? `Error: ${error.code}\n\n${error.message}` : error);
  process.exitCode = 1;
}
