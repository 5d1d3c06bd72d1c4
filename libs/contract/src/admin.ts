import Type, { type Static } from "typebox";
import { DateTime, Nullable, Uuid } from "./problem";

/** Bodies of the /v1/admin routes (ADMIN_API_KEY): tenants and their API keys. */

export const NewTenantSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$",
      description: "Unique, e.g. a team's name.",
    }),
  },
  { additionalProperties: false },
);
export type NewTenant = Static<typeof NewTenantSchema>;

export const TenantSchema = Type.Object({ id: Uuid, name: Type.String(), created_at: DateTime });
export type Tenant = Static<typeof TenantSchema>;
export const TenantListSchema = Type.Object({ items: Type.Array(TenantSchema) });

export const NewApiKeySchema = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "What the key is for." })) },
  { additionalProperties: false },
);
export type NewApiKey = Static<typeof NewApiKeySchema>;

export const ApiKeySchema = Type.Object({
  id: Uuid,
  tenant_id: Uuid,
  prefix: Type.String({ description: 'The key\'s first characters ("plat_…"), to recognize it.' }),
  name: Nullable(Type.String()),
  created_at: DateTime,
  last_used_at: Nullable(DateTime),
  revoked_at: Nullable(DateTime),
});
export type ApiKey = Static<typeof ApiKeySchema>;
export const ApiKeyListSchema = Type.Object({ items: Type.Array(ApiKeySchema) });

/** The only time a key is shown: it is stored as a hash. */
export const CreatedApiKeySchema = Type.Object({
  ...ApiKeySchema.properties,
  key: Type.String({ description: "The secret; shown once, keep it." }),
});
export type CreatedApiKey = Static<typeof CreatedApiKeySchema>;

/** A live worker (GET /v1/workers): what it runs on and what it is training, from its Redis heartbeat. */
export const WorkerSchema = Type.Object({
  id: Type.String({ description: "host:pid, the name the worker records on the jobs it runs." }),
  host: Type.String(),
  backend: Type.String({
    description: "The tfjs backend it loaded: tensorflow-gpu, tensorflow, wasm or cpu.",
  }),
  device: Type.String({
    description: "gpu or cpu, or the name its operator gave (WORKER_DEVICE), e.g. gpu:1.",
  }),
  current_jobs: Type.Array(Uuid, {
    description: "Jobs it is training now (at most WORKER_CONCURRENCY); empty when idle.",
  }),
  started_at: DateTime,
  last_heartbeat_at: DateTime,
});
export type WorkerEntry = Static<typeof WorkerSchema>;
export const WorkerListSchema = Type.Object({ items: Type.Array(WorkerSchema) });
