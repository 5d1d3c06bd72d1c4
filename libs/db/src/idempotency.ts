import type { DbClient } from "./client";
import type { Prisma } from "./generated/prisma/client";

/** How long a key's answer is kept (the IETF draft and Stripe: at least 24 hours). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface IdempotencyScope {
  tenantId: string;
  /** e.g. "POST /v1/jobs": the same key on two routes is two keys. */
  route: string;
  key: string;
}

export type Claim =
  /** This request holds the key now: answer, then complete or release it. */
  | { state: "claimed" }
  /** An earlier request with this key has not answered yet. */
  | { state: "in_flight"; requestHash: string | null }
  /** An earlier request answered; replay its answer (if the requests are the same). */
  | { state: "done"; requestHash: string | null; statusCode: number; response: unknown };

/**
 * How long a claim may stay unanswered before it counts as abandoned (its API process died before it
 * answered or released it): longer than any submission or upload takes, short enough that a client's
 * retry is not blocked for the whole 24 hours.
 */
export const IDEMPOTENCY_LEASE_MS = 10 * 60 * 1000;

/** Claims the key for this request, or says who has it. An expired record or an abandoned claim counts as absent. */
export async function claimIdempotencyKey(
  db: DbClient,
  scope: IdempotencyScope,
  requestHash: string | null,
): Promise<Claim> {
  const where = { tenantId_route_key: scope };
  const now = Date.now();
  await db.idempotencyKey.deleteMany({
    where: {
      ...scope,
      OR: [
        { createdAt: { lt: new Date(now - IDEMPOTENCY_TTL_MS) } },
        { statusCode: null, createdAt: { lt: new Date(now - IDEMPOTENCY_LEASE_MS) } },
      ],
    },
  });
  const { count } = await db.idempotencyKey.createMany({
    data: [{ ...scope, requestHash }],
    skipDuplicates: true,
  });
  if (count === 1) return { state: "claimed" };
  const row = await db.idempotencyKey.findUnique({ where });
  if (!row || row.statusCode === null) return { state: "in_flight", requestHash: row?.requestHash ?? null };
  return { state: "done", requestHash: row.requestHash, statusCode: row.statusCode, response: row.response };
}

/** Stores the answer; call inside the transaction that stores what it answers about. */
export async function completeIdempotencyKey(
  db: DbClient,
  scope: IdempotencyScope,
  answer: { requestHash: string | null; statusCode: number; response: Prisma.InputJsonValue },
): Promise<void> {
  await db.idempotencyKey.update({ where: { tenantId_route_key: scope }, data: answer });
}

/** Gives the key up (the request failed before creating anything): a retry starts afresh. */
export async function releaseIdempotencyKey(db: DbClient, scope: IdempotencyScope): Promise<void> {
  await db.idempotencyKey.deleteMany({ where: { ...scope, statusCode: null } });
}
