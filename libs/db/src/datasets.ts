import { randomUUID } from "node:crypto";
import { type FileFormat, isUuid } from "@plateau/contract";
import type { DbClient } from "./client";
import type { Dataset, Prisma } from "./generated/prisma/client";

export interface NewDataset {
  /** Defaults to a random UUID; the API may choose it first to build the S3 key from it. */
  id?: string;
  tenantId: string;
  filename: string;
  format: FileFormat;
  /** Object key in the service's bucket. */
  key: string;
  sizeBytes: number | bigint;
  columns: Prisma.InputJsonValue;
  rows: number;
}

export function createDataset(db: DbClient, dataset: NewDataset): Promise<Dataset> {
  return db.dataset.create({
    data: { ...dataset, id: dataset.id ?? randomUUID(), sizeBytes: BigInt(dataset.sizeBytes) },
  });
}

/**
 * The dataset, when it exists and (with `tenantId`) belongs to that tenant. An id that is no UUID names
 * none (rather than failing the uuid column's cast), whoever passes it: the API or a job written by hand.
 */
export async function getDataset(db: DbClient, id: string, tenantId?: string): Promise<Dataset | null> {
  if (!isUuid(id)) return null;
  return db.dataset.findFirst({ where: { id, tenantId } });
}
