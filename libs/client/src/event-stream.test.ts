import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { StreamEvent } from "@plateau/contract";
import { afterEach, describe, expect, it } from "vitest";
import { PlateauClient } from "./client";
import { ApiError, ApiUnreachableError } from "./errors";

const JOB = "6f1c1b7e-2d7a-4a4e-9a52-3f0f8e1d2c11";

/** One SSE frame as the API writes it: the stored event as data, its seq as id. */
function frame(seq: number, type = "epoch_end"): string {
  const event = {
    seq,
    type,
    epoch: seq - 1,
    batch: null,
    data: { logs: { loss: 1 / seq } },
    time: "2025-01-01T00:00:00Z",
  };
  return `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(event)}\n\n`;
}
const done = `event: done\ndata: ${JSON.stringify({ status: "succeeded", stop_reason: "completed" })}\n\n`;

type Connection = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** Starts an SSE stream and writes the frames; resolves once they have left the process. */
async function send(response: ServerResponse, ...frames: string[]): Promise<void> {
  if (!response.headersSent) response.writeHead(200, { "content-type": "text/event-stream" });
  await new Promise<void>((resolve, reject) =>
    response.write(frames.join(""), (error) => (error ? reject(error) : resolve())),
  );
}

/** Closes the TCP connection mid-stream, the way a crashed API instance or a proxy timeout does. */
function drop(response: ServerResponse): void {
  response.socket?.destroy();
}

const servers: Server[] = [];

/** A real HTTP server answering the n-th request to the events route with `connections[n]`. */
async function sseServer(connections: Connection[]) {
  const requests: { url: string; lastEventId: string | undefined }[] = [];
  const server = createServer((request, response) => {
    requests.push({
      url: request.url ?? "",
      lastEventId: request.headers["last-event-id"] as string | undefined,
    });
    const connection = connections[requests.length - 1];
    if (!connection) {
      response.writeHead(500).end("no more connections scripted");
      return;
    }
    void connection(request, response);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { client: new PlateauClient({ baseUrl: `http://127.0.0.1:${port}/` }), requests };
}

/** A URL nothing listens on: a port bound, then released. */
async function closedUrl(): Promise<string> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function collect(stream: AsyncIterable<StreamEvent>): Promise<(number | string)[]> {
  const seen: (number | string)[] = [];
  for await (const event of stream) seen.push(event.seq ?? event.type);
  return seen;
}

describe("streamEvents", () => {
  it("reconnects after a dropped connection with Last-Event-ID and yields every event once, ending at done", async () => {
    const { client, requests } = await sseServer([
      async (_request, response) => {
        await send(response, frame(1, "status"), frame(2), frame(3));
        drop(response);
      },
      async (_request, response) => {
        await send(response, frame(4), frame(5, "callback"), frame(6, "status"), done);
        response.end();
      },
    ]);
    const reconnects: number[] = [];
    const stream = client.streamEvents(JOB, {
      retryMs: 10,
      onReconnect: ({ after }) => reconnects.push(after),
    });

    expect(await collect(stream)).toEqual([1, 2, 3, 4, 5, 6, "done"]);
    expect(requests.map((r) => r.lastEventId)).toEqual([undefined, "3"]);
    expect(requests[0].url).toBe(`/v1/jobs/${JOB}/events`);
    expect(reconnects).toEqual([3]);
  });

  it("yields typed events: the stored event as data, done with the final status", async () => {
    const { client } = await sseServer([
      async (_request, response) => {
        await send(response, frame(7), done);
        response.end();
      },
    ]);
    const events: StreamEvent[] = [];
    for await (const event of client.streamEvents(JOB)) events.push(event);

    expect(events).toEqual([
      {
        seq: 7,
        type: "epoch_end",
        epoch: 6,
        batch: null,
        data: { logs: { loss: 1 / 7 } },
        time: "2025-01-01T00:00:00Z",
      },
      { seq: null, type: "done", data: { status: "succeeded", stop_reason: "completed" } },
    ]);
  });

  it("reconnects when the server ends the stream before done, and skips a seq it already yielded", async () => {
    const { client, requests } = await sseServer([
      async (_request, response) => {
        await send(response, frame(1), frame(2));
        response.end();
      },
      async (_request, response) => {
        // A misbehaving proxy replaying the last event must not make the consumer see it twice.
        await send(response, frame(2), frame(3), done);
        response.end();
      },
    ]);
    expect(await collect(client.streamEvents(JOB, { retryMs: 10 }))).toEqual([1, 2, 3, "done"]);
    expect(requests.map((r) => r.lastEventId)).toEqual([undefined, "2"]);
  });

  it("resumes from `after` on the first request", async () => {
    const { client, requests } = await sseServer([
      async (_request, response) => {
        await send(response, frame(41), done);
        response.end();
      },
    ]);
    expect(await collect(client.streamEvents(JOB, { after: 40 }))).toEqual([41, "done"]);
    expect(requests[0].lastEventId).toBe("40");
  });

  it("ends with done from the job when a reconnect after the last event is answered 204", async () => {
    const { client, requests } = await sseServer([
      async (_request, response) => {
        // The terminal status arrives, then the connection drops before `done`.
        await send(response, frame(1), frame(2, "status"));
        drop(response);
      },
      (_request, response) => void response.writeHead(204).end(),
      (_request, response) =>
        void response
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ id: JOB, status: "cancelled", stop_reason: "nan_loss" })),
    ]);
    const events: StreamEvent[] = [];
    for await (const event of client.streamEvents(JOB, { retryMs: 5 })) events.push(event);

    expect(events.map((event) => event.seq ?? event.type)).toEqual([1, 2, "done"]);
    expect(events.at(-1)).toEqual({
      seq: null,
      type: "done",
      data: { status: "cancelled", stop_reason: "nan_loss" },
    });
    expect(requests.map((r) => [r.url, r.lastEventId])).toEqual([
      [`/v1/jobs/${JOB}/events`, undefined],
      [`/v1/jobs/${JOB}/events`, "2"],
      [`/v1/jobs/${JOB}`, undefined],
    ]);
  });

  it("waits the interval the server asks for with retry:", async () => {
    const { client } = await sseServer([
      async (_request, response) => {
        await send(response, "retry: 300\n\n", frame(1));
        drop(response);
      },
      async (_request, response) => {
        await send(response, frame(2), done);
        response.end();
      },
    ]);
    const started = Date.now();
    expect(await collect(client.streamEvents(JOB, { retryMs: 5 }))).toEqual([1, 2, "done"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it("retries a 503 and throws a 404 at once as an ApiError carrying the API's body", async () => {
    const notFound = { error: "not_found", message: `There is no job ${JOB}`, details: [] };
    const { client, requests } = await sseServer([
      (_request, response) => void response.writeHead(503).end("restarting"),
      (_request, response) =>
        void response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify(notFound)),
    ]);
    const error = await collect(client.streamEvents(JOB, { retryMs: 10 })).catch((caught) => caught);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: "not_found", message: notFound.message, details: [] });
    expect(requests).toHaveLength(2);
  });

  it("gives up after maxRetries failed attempts in a row with ApiUnreachableError", async () => {
    const closed = new PlateauClient({ baseUrl: await closedUrl() });
    const attempts: number[] = [];
    const error = await collect(
      closed.streamEvents(JOB, {
        retryMs: 5,
        maxRetries: 3,
        onReconnect: ({ attempt }) => attempts.push(attempt),
      }),
    ).catch((caught) => caught);

    expect(error).toBeInstanceOf(ApiUnreachableError);
    expect(error.message).toContain("ECONNREFUSED");
    expect(attempts).toEqual([1, 2, 3]);
  });

  it("counts failures in a row only: an event in between resets the count", async () => {
    const { client } = await sseServer([
      async (_request, response) => {
        await send(response, frame(1));
        drop(response);
      },
      async (_request, response) => {
        await send(response, frame(2));
        drop(response);
      },
      async (_request, response) => {
        await send(response, frame(3), done);
        response.end();
      },
    ]);
    expect(await collect(client.streamEvents(JOB, { retryMs: 5, maxRetries: 1 }))).toEqual([1, 2, 3, "done"]);
  });

  it("stops with the signal's reason when aborted while waiting for events", async () => {
    const { client } = await sseServer([(_request, response) => send(response, frame(1))]);
    const controller = new AbortController();
    const seen: number[] = [];
    const reason = new Error("user pressed Ctrl-C");
    const error = await (async () => {
      for await (const event of client.streamEvents(JOB, { signal: controller.signal })) {
        seen.push(event.seq ?? -1);
        controller.abort(reason);
      }
    })().catch((caught) => caught);

    expect(seen).toEqual([1]);
    expect(error).toBe(reason);
  });
});
