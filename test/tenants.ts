import { randomUUID } from "node:crypto";
import { createApiKey, createTenant, type DbClient } from "@plateau/db";

export interface TestTenant {
  id: string;
  keyId: string;
  key: string;
  /** `Authorization` header for the tenant's key. */
  headers: { authorization: string };
}

/** A tenant of its own with one API key, for an integration test (names are unique per call). */
export async function createTestTenant(db: DbClient, name = "test"): Promise<TestTenant> {
  const tenant = await createTenant(db, `${name}-${randomUUID().slice(0, 8)}`);
  if (!tenant) throw new Error("test tenant names are unique; this one was taken");
  const { apiKey, key } = await createApiKey(db, tenant.id, { name });
  return { id: tenant.id, keyId: apiKey.id, key, headers: { authorization: `Bearer ${key}` } };
}
