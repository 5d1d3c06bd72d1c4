import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import {
  type ApiKey as ApiKeyBody,
  ApiKeyListSchema,
  ApiKeySchema,
  CreatedApiKeySchema,
  NewApiKeySchema,
  NewTenantSchema,
  TenantSchema,
  Uuid,
} from "@plateau/contract";
import { type ApiKey, createApiKey, createTenant, getTenant, listApiKeys, revokeApiKey } from "@plateau/db";
import Type from "typebox";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef } from "../errors";

const admin = { auth: "admin" } as const;
const IdParams = Type.Object({ id: Uuid });

/** Tenants and API keys, for the holder of ADMIN_API_KEY; it sees no tenant's jobs or data. */
export const adminRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, { db }) => {
  const findTenant = async (id: string) => {
    const tenant = await getTenant(db, id);
    if (!tenant) throw new ApiError(404, "not_found", `There is no tenant ${id}.`);
    return tenant;
  };

  app.post(
    "/v1/admin/tenants",
    {
      config: admin,
      schema: {
        tags: ["admin"],
        summary: "Create a tenant",
        body: NewTenantSchema,
        response: { 201: TenantSchema, 400: ErrorRef, 401: ErrorRef, 409: ErrorRef },
      },
    },
    async (request, reply) => {
      const { name } = request.body;
      const tenant = await createTenant(db, name);
      if (!tenant) throw new ApiError(409, "conflict", `A tenant named "${name}" exists; pick another name.`);
      return reply
        .code(201)
        .send({ id: tenant.id, name: tenant.name, created_at: tenant.createdAt.toISOString() });
    },
  );

  app.post(
    "/v1/admin/tenants/:id/keys",
    {
      config: admin,
      schema: {
        tags: ["admin"],
        summary: "Create an API key for a tenant (the key is shown once)",
        params: IdParams,
        body: Type.Optional(NewApiKeySchema),
        response: { 201: CreatedApiKeySchema, 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request, reply) => {
      const tenant = await findTenant(request.params.id);
      const { apiKey, key } = await createApiKey(db, tenant.id, { name: request.body?.name });
      return reply.code(201).send({ ...keyView(apiKey), key });
    },
  );

  app.get(
    "/v1/admin/tenants/:id/keys",
    {
      config: admin,
      schema: {
        tags: ["admin"],
        summary: "A tenant's keys: prefix, created, last used, revoked",
        params: IdParams,
        response: { 200: ApiKeyListSchema, 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const tenant = await findTenant(request.params.id);
      return { items: (await listApiKeys(db, tenant.id)).map(keyView) };
    },
  );

  app.delete(
    "/v1/admin/keys/:id",
    {
      config: admin,
      schema: {
        tags: ["admin"],
        summary: "Revoke a key: every request with it answers 401 from now on",
        params: IdParams,
        response: { 200: ApiKeySchema, 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const key = await revokeApiKey(db, request.params.id);
      if (!key) throw new ApiError(404, "not_found", `There is no key ${request.params.id}.`);
      return keyView(key);
    },
  );
};

function keyView(key: ApiKey): ApiKeyBody {
  return {
    id: key.id,
    tenant_id: key.tenantId,
    prefix: key.prefix,
    name: key.name,
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}
