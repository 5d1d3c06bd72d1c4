import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WEBHOOK_REPLAY_WINDOW_SECONDS } from "@plateau/contract";

/** One request as the receiver saw it, with its signature checked the way a user's receiver would. */
export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  payload: Record<string, unknown>;
  /** The signature matched HMAC-SHA256 over `timestamp.body` with the receiver's secret. */
  signed: boolean;
  /** The client went away before the receiver answered. */
  abandoned: boolean;
}

/** What to answer: a status and body, or nothing at all (the request hangs until the client gives up). */
export type Answer = { status?: number; body?: string; headers?: Record<string, string> } | "hang";

export interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/**
 * A webhook endpoint; `answer` decides each reply from the request's payload. It listens on 127.0.0.1, or
 * with `anyAddress` on every address (IPv6 and IPv4 where available), for a name that may resolve to ::1.
 */
export async function startReceiver(
  secret: string,
  answer: (payload: Record<string, unknown>, index: number) => Answer,
  options: { anyAddress?: boolean } = {},
): Promise<Receiver> {
  const received: Received[] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const entry: Received = {
        headers: request.headers,
        body,
        payload: JSON.parse(body),
        signed: verify(secret, request.headers, body),
        abandoned: false,
      };
      received.push(entry);
      const reply = answer(entry.payload, received.length - 1);
      if (reply === "hang") {
        open.add(response);
        response.on("close", () => {
          entry.abandoned = !response.writableEnded;
          open.delete(response);
        });
        return;
      }
      response.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
      response.end(reply.body ?? "");
    });
  });
  await new Promise<void>((resolve) =>
    options.anyAddress ? server.listen(0, resolve) : server.listen(0, "127.0.0.1", resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: async () => {
      for (const response of open) response.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What the README tells receivers to do, written independently of the worker's signing code. */
function verify(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const timestamp = String(headers["plateau-timestamp"] ?? "");
  const given = String(headers["plateau-signature"] ?? "");
  const expected = `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= WEBHOOK_REPLAY_WINDOW_SECONDS;
  return (
    fresh && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected))
  );
}
