import { createHash } from "node:crypto";
import {
  type Claim,
  claimIdempotencyKey,
  completeIdempotencyKey,
  type Db,
  type DbClient,
  type IdempotencyScope,
  type Prisma,
  releaseIdempotencyKey,
} from "@plateau/db";
import type { FastifyReply } from "fastify";
import Type from "typebox";
import { ApiError } from "./errors";

/**
 * `Idempotency-Key` (the IETF httpapi draft, Stripe's semantics): the first request with a key claims it
 * and its answer is stored with what it created, in one transaction; the same key with the same request
 * gets that answer again (same status, same body) for 24 hours; with a different request, 422; while the
 * first is still being answered, 409. A request that fails before creating anything gives the key up.
 */
export const IdempotencyHeaders = Type.Object({
  "idempotency-key": Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description: "Makes a retry safe: the same key and request within 24 h return the first answer.",
    }),
  ),
});

export interface Idempotency {
  /** Stores the answer; call in the transaction that creates the resource. */
  complete(
    tx: DbClient,
    answer: { requestHash: string; statusCode: number; response: Prisma.InputJsonValue },
  ): Promise<void>;
  /** Gives the key up when the request failed before creating anything. */
  release(): Promise<void>;
}

/** SHA-256 of a JSON value with object keys sorted, so a client's key order does not matter. */
export function hashJson(value: unknown): string {
  return createHash("sha256").update(stableJson(value)).digest("hex");
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** An earlier answer for the same key: to send again once the request is known to be the same. */
export type Replay = Extract<Claim, { state: "done" }>;

/**
 * Claims the key for this request, or returns the answer stored for it; throws 409 while the first
 * request is in flight. `requestHash` is null when the request is only known once its body has streamed
 * (an upload): the route hashes it then, compares with the replay's, and completes with its own hash.
 */
export async function claim(
  db: Db,
  scope: IdempotencyScope,
  requestHash: string | null,
): Promise<Idempotency | Replay> {
  const claimed = await claimIdempotencyKey(db, scope, requestHash);
  if (claimed.state === "in_flight") {
    throw new ApiError(
      409,
      "conflict",
      `A request with Idempotency-Key "${scope.key}" is still being answered; retry once it has finished.`,
    );
  }
  if (claimed.state === "done") return claimed;
  return {
    complete: (tx, answer) => completeIdempotencyKey(tx, scope, answer),
    release: () => releaseIdempotencyKey(db, scope),
  };
}

/** Sends a stored answer again, when the request is the one it answered. */
export function replay(reply: FastifyReply, key: string, stored: Replay, requestHash: string): FastifyReply {
  if (stored.requestHash !== requestHash) {
    throw new ApiError(
      422,
      "idempotency_key_reused",
      `Idempotency-Key "${key}" was used for a different request in the last 24 hours; use a new key for a new request.`,
    );
  }
  return reply.code(stored.statusCode).header("idempotent-replayed", "true").send(stored.response);
}
