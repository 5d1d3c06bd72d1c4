-- Durable jobs: every run of a job by a worker is an attempt; events say which attempt wrote them, and
-- rows a resumed attempt rolled back are kept (superseded_by) but no longer part of the job's history.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN "attempt" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "resume_point" JSONB;

-- AlterTable
ALTER TABLE "job_events" ADD COLUMN "attempt" INTEGER,
ADD COLUMN "superseded_by" INTEGER;

-- CreateTable
CREATE TABLE "job_attempts" (
    "job_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "worker" TEXT NOT NULL,
    "backend" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),
    "ending" TEXT,
    "detail" TEXT,
    "resumed_from_epoch" INTEGER,

    CONSTRAINT "job_attempts_pkey" PRIMARY KEY ("job_id","attempt")
);

-- AddForeignKey
ALTER TABLE "job_attempts" ADD CONSTRAINT "job_attempts_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
