import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's one HTTP surface: `GET /metrics` (Prometheus) and `GET /healthz`, 200 while `healthy()`
 * holds, else 503 (a container health check restarts a worker that stopped taking jobs or lost Redis).
 * It serves no tenant's data; bind it where only the operator's network reaches (WORKER_METRICS_HOST).
 */
export async function serveMetrics(options: {
  host: string;
  port: number;
  registry: Registry;
  healthy: () => boolean;
}): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://worker").pathname;
    const send = (status: number, type: string, body: string) =>
      response.writeHead(status, { "content-type": type }).end(request.method === "HEAD" ? undefined : body);
    if (request.method !== "GET" && request.method !== "HEAD") return send(405, "text/plain", "GET only\n");
    if (path === "/healthz") {
      const ok = options.healthy();
      return send(ok ? 200 : 503, "application/json", JSON.stringify({ status: ok ? "ok" : "unhealthy" }));
    }
    if (path !== "/metrics") return send(404, "text/plain", "GET /metrics or /healthz\n");
    options.registry.metrics().then(
      (text) => send(200, options.registry.contentType, text),
      (error: unknown) => send(500, "text/plain", `could not collect metrics: ${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
