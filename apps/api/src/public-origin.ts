import type { Config } from "@plateau/config";
import type { FastifyRequest } from "fastify";

/**
 * The origin of absolute URLs the API hands out (model_url, redirects): PUBLIC_URL when set, else the
 * address and port this server accepted the connection on. Never the request's Host or X-Forwarded-*
 * headers: a client chooses those, and a URL built from them sends whoever follows it (another client,
 * a cache) to a host of the attacker's choosing. Behind a proxy or under a DNS name, set PUBLIC_URL.
 */
export function publicOrigin(
  config: Pick<Config, "PUBLIC_URL" | "API_HOST" | "API_PORT">,
  request: FastifyRequest,
): string {
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/+$/, "");
  const socket = request.raw.socket as { localAddress?: string; localPort?: number; encrypted?: boolean };
  // Injected requests (tests) have no real socket: the configured listening address stands in.
  let address = socket.localAddress || config.API_HOST;
  const port = socket.localPort || config.API_PORT;
  if (address.startsWith("::ffff:") && address.includes(".")) address = address.slice("::ffff:".length);
  const host = address.includes(":") ? `[${address}]` : address;
  return `${socket.encrypted ? "https" : "http"}://${host}:${port}`;
}
