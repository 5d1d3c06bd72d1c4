import { randomUUID } from "node:crypto";
import type { LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { WEBHOOK_HEADERS, WEBHOOK_LIMITS } from "@plateau/contract";
import ipaddr from "ipaddr.js";
import pRetry from "p-retry";
import { webhookSignature } from "./webhook-signature";
import { addressRefusal, type WebhookPolicy, webhookTargetIssues } from "./webhook-target";

/** What one call of a hook sends: the JSON body is signed anew on each attempt, with that attempt's time. */
export interface DeliveryRequest {
  url: string;
  secret: string;
  body: string;
  /** Bound of the whole delivery: every attempt, the waits between them and DNS resolution. */
  timeoutMs: number;
  maxRetries: number;
  policy: WebhookPolicy;
}

export interface Delivered {
  /** The reply body (at most WEBHOOK_LIMITS.replyBytes), for any 2xx. */
  text: string;
  attempts: number;
}

/** A delivery that did not get a 2xx answer; its message says why, for the job's events. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message);
  }
}

/** Worth another attempt: a network error or a 5xx. Anything else fails the delivery at once. */
class Transient extends Error {}

/**
 * POSTs a body to a webhook under the service's policy: the host checked against the allowlist, every
 * address it resolves to checked against the non-public ranges, and the connection made to the address
 * that was checked (so a second DNS answer cannot swap it). Redirects are not followed. Retries network
 * errors and 5xx answers with backoff, all within `timeoutMs`.
 */
export async function deliver(request: DeliveryRequest): Promise<Delivered> {
  const refused = webhookTargetIssues(request.url, request.policy);
  if (refused.length > 0) throw new DeliveryError(`url ${refused[0].message}`, 0);
  const url = new URL(request.url);
  const deadline = AbortSignal.timeout(request.timeoutMs);
  const delivery = randomUUID();
  let attempts = 0;
  try {
    const text = await pRetry(
      async () => {
        attempts += 1;
        const address = await resolve(url, request.policy, deadline);
        const timestamp = Math.floor(Date.now() / 1000);
        const headers = {
          "content-type": "application/json",
          "user-agent": "Plateau-Webhook/1",
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: webhookSignature(request.secret, timestamp, request.body),
          [WEBHOOK_HEADERS.delivery]: delivery,
        };
        return post(url, address, headers, request.body, deadline);
      },
      {
        retries: request.maxRetries,
        minTimeout: 100,
        maxTimeout: 2000,
        factor: 2,
        maxRetryTime: request.timeoutMs,
        signal: deadline,
        unref: true,
        shouldRetry: ({ error }) => error instanceof Transient,
      },
    );
    return { text, attempts };
  } catch (error) {
    const tries = `${attempts} attempt${attempts === 1 ? "" : "s"}`;
    if (deadline.aborted) {
      throw new DeliveryError(`no answer within timeout_ms ${request.timeoutMs} (${tries})`, attempts);
    }
    throw new DeliveryError(`${(error as Error).message} (${tries})`, attempts);
  }
}

/** The address to connect to: the URL's IP literal, or the first a name resolves to once all are checked. */
async function resolve(url: URL, policy: WebhookPolicy, signal: AbortSignal): Promise<LookupAddress> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (ipaddr.isValid(host)) return { address: host, family: ipaddr.parse(host).kind() === "ipv6" ? 6 : 4 };
  let addresses: LookupAddress[];
  try {
    // dns.lookup cannot be cancelled; the race keeps it inside the delivery's time.
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => {});
    addresses = await Promise.race([lookup(host, { all: true, verbatim: true }), aborted]);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new Transient(`${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  if (addresses.length === 0) throw new Transient(`${host} resolves to no address`);
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, policy);
    if (refusal) throw new Error(`${host} resolves to ${refusal}`);
  }
  return addresses[0];
}

function post(
  url: URL,
  address: LookupAddress,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<string> {
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  };
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup: pinned,
        // A fresh connection each time: a pooled socket would skip the check of the current DNS answer.
        agent: false,
        signal,
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          response.resume();
          if (status >= 300 && status < 400) {
            reject(
              new Error(
                `answered ${status} to ${response.headers.location ?? "(no location)"}; redirects are not followed: give the final address as url`,
              ),
            );
          } else if (status >= 500) reject(new Transient(`answered ${status}`));
          else reject(new Error(`answered ${status}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > WEBHOOK_LIMITS.replyBytes) {
            request.destroy();
            reject(new Error(`replied with more than ${WEBHOOK_LIMITS.replyBytes} bytes`));
          } else chunks.push(chunk);
        });
        response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        response.on("error", (error) =>
          reject(signal.aborted ? signal.reason : new Transient(error.message)),
        );
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) =>
      reject(signal.aborted ? signal.reason : new Transient(`${error.code ?? error.message}`)),
    );
    request.end(body);
  });
}
