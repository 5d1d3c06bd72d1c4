import { createHmac } from "node:crypto";

/**
 * The `Plateau-Signature` value of a delivery: `v1=` and the hex HMAC-SHA256, keyed with the webhook's
 * secret, of `<timestamp>.<body>` — the timestamp signed with the body, so a captured request cannot be
 * replayed later with a fresh timestamp.
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}
