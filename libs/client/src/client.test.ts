import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { PlateauClient } from "./client";
import { ApiError } from "./errors";

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A real HTTP server that records each request and answers with `answer`. */
async function server(answer: (request: IncomingMessage, response: ServerResponse) => void) {
  const seen: Seen[] = [];
  const http = createServer(async (request, response) => {
    let body = "";
    for await (const chunk of request) body += chunk;
    seen.push({
      method: request.method ?? "",
      url: request.url ?? "",
      contentType: request.headers["content-type"],
      body,
    });
    answer(request, response);
  });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  servers.push(http);
  const { port } = http.address() as AddressInfo;
  return { client: new PlateauClient({ baseUrl: `http://127.0.0.1:${port}` }), seen };
}

const json = (status: number, body: unknown) => (_request: IncomingMessage, response: ServerResponse) =>
  void response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

describe("PlateauClient", () => {
  it("throws the API's error body as an ApiError, details included", async () => {
    const body = {
      error: "invalid_spec",
      message: "The job spec has 1 problem: fix the fields listed in details. Nothing was queued.",
      details: [{ path: "/callbacks/0/factor", message: "must be < 1" }],
    };
    const { client } = await server(json(400, body));
    const error = await client.getJob("x").catch((caught) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      code: body.error,
      message: body.message,
      details: body.details,
    });
  });

  it("keeps a body that is not the API's error shape, such as a proxy's page", async () => {
    const { client } = await server(
      (_request, response) => void response.writeHead(502).end("<h1>Bad Gateway</h1>"),
    );
    const error = await client.listJobs().catch((caught) => caught);
    expect(error).toMatchObject({ status: 502, code: "http_502", message: "HTTP 502: <h1>Bad Gateway</h1>" });
  });

  it("sends query parameters that are set, and JSON bodies", async () => {
    const { client, seen } = await server(json(200, { items: [], next_cursor: null }));
    await client.listJobs({ status: "running", limit: 5, cursor: undefined });
    await client.simulate({ callbacks: [{ type: "TerminateOnNaN" }], epochs: [{ logs: { loss: 1 } }] });
    expect(seen[0]).toMatchObject({ method: "GET", url: "/v1/jobs?status=running&limit=5" });
    expect(seen[1]).toMatchObject({
      method: "POST",
      url: "/v1/callbacks/simulate",
      contentType: "application/json",
    });
    expect(JSON.parse(seen[1].body)).toEqual({
      callbacks: [{ type: "TerminateOnNaN" }],
      epochs: [{ logs: { loss: 1 } }],
    });
  });

  it("uploads a dataset as the raw file, typed by its extension", async () => {
    const { client, seen } = await server(json(201, { id: "d" }));
    await client.uploadDataset("a,label\n1,0\n", { filename: "train.csv" });
    await client.uploadDataset('{"a":1,"label":0}\n', { filename: "train.jsonl" });
    expect(seen[0]).toMatchObject({
      url: "/v1/datasets?filename=train.csv",
      contentType: "text/csv",
      body: "a,label\n1,0\n",
    });
    expect(seen[1]).toMatchObject({
      url: "/v1/datasets?filename=train.jsonl",
      contentType: "application/x-ndjson",
    });
  });
});
