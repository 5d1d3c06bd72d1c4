import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client";

export type Db = PrismaClient;

/**
 * A Prisma client over node-postgres: the driver adapter runs queries in JavaScript, so no native
 * Prisma engine is needed at run time. The caller owns it and ends it with `$disconnect()`.
 */
export function createDb(databaseUrl: string): Db {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
