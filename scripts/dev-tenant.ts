/**
 * npm run dev, step 2: the development tenant and the two keys, so the stack answers at once.
 *
 *   - tenant "dev", created once (idempotent);
 *   - its API key: PLATEAU_API_KEY when set (any string of 20+ characters without spaces; added to the
 *     tenant if the database does not know it yet), else the key in .stack/api-key when it is still
 *     the dev tenant's live key, else a new one; written to .stack/api-key (mode 600);
 *   - the admin key: ADMIN_API_KEY when set, else the one in .stack/admin-key, else 192 random bits;
 *     written to .stack/admin-key (mode 600). dev.sh passes it to the API.
 *
 * The CLI reads both files when the API is local, so `npm run cli -- …` needs no flag.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig } from "@plateau/config";
import {
  createApiKey,
  createDb,
  createTenant,
  type Db,
  getTenantByName,
  hashKey,
  type Tenant,
} from "@plateau/db";

const TENANT = "dev";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STACK = join(ROOT, ".stack");
const API_KEY_FILE = join(STACK, "api-key");
const ADMIN_KEY_FILE = join(STACK, "admin-key");
/** What the API's bearer parser accepts, at a length worth calling a secret. */
const USABLE = /^\S{20,}$/;

class DevKeyError extends Error {}

function readKey(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

function writeKey(path: string, key: string): void {
  mkdirSync(STACK, { recursive: true });
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The tenant's key to use: `candidate` if it is, or can become, the tenant's live key; undefined otherwise. */
async function usable(db: Db, tenant: Tenant, candidate: string, from: string): Promise<string | undefined> {
  const row = await db.apiKey.findUnique({ where: { hash: hashKey(candidate) } });
  if (!row) {
    await createApiKey(db, tenant.id, { key: candidate, name: `dev (${from})` });
    return candidate;
  }
  if (row.tenantId !== tenant.id) {
    if (from === "PLATEAU_API_KEY") {
      throw new DevKeyError(
        `PLATEAU_API_KEY is a key of another tenant (${row.tenantId}), not of "${TENANT}"`,
      );
    }
    return undefined;
  }
  if (row.revokedAt) {
    if (from === "PLATEAU_API_KEY") {
      throw new DevKeyError(
        `PLATEAU_API_KEY was revoked at ${row.revokedAt.toISOString()}: unset it or choose another`,
      );
    }
    return undefined;
  }
  return candidate;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const fromEnv = process.env.PLATEAU_API_KEY || undefined;
  if (fromEnv !== undefined && !USABLE.test(fromEnv)) {
    throw new DevKeyError("PLATEAU_API_KEY must be at least 20 characters, without spaces");
  }
  if (config.ADMIN_API_KEY && !USABLE.test(config.ADMIN_API_KEY)) {
    throw new DevKeyError("ADMIN_API_KEY must be at least 20 characters, without spaces");
  }

  const db = createDb(config.DATABASE_URL);
  try {
    // Created here, or found: already there, or created meanwhile by another npm run dev.
    const tenant = (await createTenant(db, TENANT)) ?? (await getTenantByName(db, TENANT));
    if (!tenant) throw new Error(`tenant "${TENANT}" could be neither created nor found`);

    let key: string | undefined;
    let origin: string;
    const fromFile = readKey(API_KEY_FILE);
    if (fromEnv) {
      key = await usable(db, tenant, fromEnv, "PLATEAU_API_KEY");
      origin = "from PLATEAU_API_KEY";
    } else if (fromFile && USABLE.test(fromFile)) {
      key = await usable(db, tenant, fromFile, ".stack/api-key");
      origin = "kept from .stack/api-key";
    } else {
      origin = "new";
    }
    if (!key) {
      key = (await createApiKey(db, tenant.id, { name: "dev" })).key;
      origin = "new";
    }
    writeKey(API_KEY_FILE, key);

    const adminFile = readKey(ADMIN_KEY_FILE);
    let admin: string;
    let adminOrigin: string;
    if (config.ADMIN_API_KEY) {
      [admin, adminOrigin] = [config.ADMIN_API_KEY, "from ADMIN_API_KEY"];
    } else if (adminFile && USABLE.test(adminFile)) {
      [admin, adminOrigin] = [adminFile, "kept from .stack/admin-key"];
    } else {
      [admin, adminOrigin] = [randomBytes(24).toString("base64url"), "new"];
    }
    writeKey(ADMIN_KEY_FILE, admin);

    console.log(`tenant "${TENANT}" (${tenant.id}); its API key (${origin}), written to .stack/api-key:`);
    console.log(`    ${key}`);
    console.log(
      `admin key (${adminOrigin}) in .stack/admin-key; the CLI reads both files for this local API`,
    );
  } finally {
    await db.$disconnect();
  }
}

try {
  await main();
} catch (error) {
  // A mistake in the environment is told in one line; anything else with its stack.
  const told = error instanceof DevKeyError || error instanceof ConfigError;
  console.error(told ? `dev: ${error.message}` : error);
  process.exitCode = 1;
}
