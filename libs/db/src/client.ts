import { PrismaPg } from "@prisma/adapter-pg";
import { type Prisma, PrismaClient } from "./generated/prisma/client";

export type Db = PrismaClient;
/** A client or an interactive transaction's client: what queries that need no transaction of their own take. */
export type DbClient = Db | Prisma.TransactionClient;

/**
 * A Prisma client over node-postgres: the driver adapter runs queries in JavaScript, so no native
 * Prisma engine is needed at run time. The caller owns it and ends it with `$disconnect()`.
 */
export function createDb(databaseUrl: string): Db {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
