-- CreateTable
CREATE TABLE "tenants" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "name" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "service_secrets" (
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "service_secrets_pkey" PRIMARY KEY ("name")
);

-- Jobs and datasets stored before tenants existed belong to a tenant named "default"; give its
-- administrators a key with POST /v1/admin/tenants/00000000-0000-0000-0000-000000000000/keys.
INSERT INTO "tenants" ("id", "name")
SELECT '00000000-0000-0000-0000-000000000000', 'default'
WHERE EXISTS (SELECT 1 FROM "jobs") OR EXISTS (SELECT 1 FROM "datasets");

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN "tenant_id" UUID,
ADD COLUMN "submitted_by" UUID,
ADD COLUMN "cancelled_by" UUID;
UPDATE "jobs" SET "tenant_id" = '00000000-0000-0000-0000-000000000000';
ALTER TABLE "jobs" ALTER COLUMN "tenant_id" SET NOT NULL;

-- AlterTable
ALTER TABLE "datasets" ADD COLUMN "tenant_id" UUID;
UPDATE "datasets" SET "tenant_id" = '00000000-0000-0000-0000-000000000000';
ALTER TABLE "datasets" ALTER COLUMN "tenant_id" SET NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "tenants_name_key" ON "tenants"("name");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");

-- CreateIndex
CREATE INDEX "api_keys_tenant_id_created_at_idx" ON "api_keys"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_tenant_id_created_at_id_idx" ON "jobs"("tenant_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "jobs_tenant_id_status_created_at_id_idx" ON "jobs"("tenant_id", "status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "datasets_tenant_id_created_at_idx" ON "datasets"("tenant_id", "created_at");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "datasets" ADD CONSTRAINT "datasets_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
