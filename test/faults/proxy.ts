import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { sparePort } from "./ports";
import { sleep } from "./wait";

/**
 * - `pass`: forward bytes both ways.
 * - `refuse`: stop listening (new connections are refused) and close every open one.
 * - `blackhole`: accept and read, never answer; open connections stop hearing from the server too.
 * - `http500`: answer every HTTP request `500 Internal Server Error` with an S3-style XML error.
 */
export type FaultMode = "pass" | "refuse" | "blackhole" | "http500";

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: where clients connect instead of the target. */
  endpoint: string;
  port: number;
  readonly mode: FaultMode;
  /** Switches mode; connections opened under the previous mode are closed (blackhole: silenced). */
  setMode(mode: FaultMode): Promise<void>;
  close(): Promise<void>;
}

/** At most this many client connections at once; more are closed at once (a test runaway, not a fault). */
const MAX_CONNECTIONS = 256;

const S3_ERROR_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>" +
  "<RequestId>plateau-fault-proxy</RequestId></Error>";

/** A TCP proxy in front of `target` (an `http://host:port` endpoint or a port on 127.0.0.1) that a test controls. */
export async function startFaultProxy(target: string | number): Promise<FaultProxy> {
  const upstream =
    typeof target === "number" ? { host: "127.0.0.1", port: target } : hostAndPort(new URL(target));
  const port = await sparePort();
  let mode: FaultMode = "pass";
  let closed = false;
  const clients = new Map<Socket, Socket | undefined>();

  // HTTP parsing is node's: sockets in http500 mode are handed to this server, which answers them all.
  const failing = createHttpServer((request, response) => {
    request.resume();
    request.once("end", () => {
      response.writeHead(500, {
        "content-type": "application/xml",
        "content-length": Buffer.byteLength(S3_ERROR_XML),
      });
      response.end(S3_ERROR_XML);
    });
  });

  const accept = (client: Socket) => {
    client.on("error", () => {});
    if (clients.size >= MAX_CONNECTIONS) return void client.destroy();
    clients.set(client, undefined);
    client.once("close", () => {
      clients.get(client)?.destroy();
      clients.delete(client);
    });
    if (mode === "http500") return void failing.emit("connection", client);
    if (mode === "blackhole") return void client.resume();
    const server = connect(upstream.port, upstream.host);
    server.on("error", () => client.destroy());
    server.once("close", () => client.destroy());
    clients.set(client, server);
    client.pipe(server);
    server.pipe(client);
  };

  let listener: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const server = createServer(accept);
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        listener = server;
        resolve();
      });
    });
  const unlisten = () =>
    new Promise<void>((resolve) => {
      if (!listener) return resolve();
      listener.close(() => resolve());
      listener = undefined;
    });
  /** Closes (or, with `silence`, mutes) every open connection; resolves once the closed ones are closed, within 1 s. */
  const dropConnections = async (silence: boolean) => {
    const closing: Promise<unknown>[] = [];
    for (const [client, server] of clients) {
      if (!silence) {
        closing.push(once(client, "close"));
        client.destroy();
        continue;
      }
      // The client's socket stays open and read, but nothing reaches it any more.
      if (server) {
        server.unpipe(client);
        client.unpipe(server);
        server.removeAllListeners("close");
        server.destroy();
        clients.set(client, undefined);
      }
      client.resume();
    }
    await Promise.race([Promise.all(closing), sleep(1_000)]);
  };

  await listen();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    setMode: async (next) => {
      if (closed) throw new Error("the fault proxy is closed");
      const previous = mode;
      mode = next;
      await dropConnections(next === "blackhole" && previous === "pass");
      if (next === "refuse") await unlisten();
      else if (!listener) await listen();
    },
    close: async () => {
      closed = true;
      await dropConnections(false);
      await unlisten();
      failing.close();
    },
  };
}

function hostAndPort(url: URL): { host: string; port: number } {
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  return { host: url.hostname, port };
}
