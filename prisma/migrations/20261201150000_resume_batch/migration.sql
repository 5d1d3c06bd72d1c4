-- Resume snapshots inside an epoch: an attempt may continue mid-epoch, at a batch.

-- AlterTable
ALTER TABLE "job_attempts" ADD COLUMN "resumed_from_batch" INTEGER;
