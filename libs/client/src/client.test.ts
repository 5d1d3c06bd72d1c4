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
  const url = `http://127.0.0.1:${port}`;
  return { client: new PlateauClient({ baseUrl: url }), seen, url };
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

  it("sends the key on every request, and calls the admin routes with their methods and bodies", async () => {
    const authorizations: (string | undefined)[] = [];
    const { seen, url } = await server((request, response) => {
      authorizations.push(request.headers.authorization);
      json(200, { items: [] })(request, response);
    });
    const admin = new PlateauClient({ baseUrl: url, apiKey: "admin-key-of-twenty-chars" });
    const tenant = "7d4c1a52-0d8e-4b8f-9f7e-2f0a4b1c9d3e";
    const key = "0b9e3c1d-5a6f-4e2b-8c7d-1e2f3a4b5c6d";
    await admin.createTenant("team-a");
    await admin.createApiKey(tenant, { name: "ci" });
    await admin.createApiKey(tenant);
    await admin.listApiKeys(tenant);
    await admin.revokeApiKey(key);
    expect(seen.map(({ method, url, body }) => [method, url, body])).toEqual([
      ["POST", "/v1/admin/tenants", '{"name":"team-a"}'],
      ["POST", `/v1/admin/tenants/${tenant}/keys`, '{"name":"ci"}'],
      ["POST", `/v1/admin/tenants/${tenant}/keys`, "{}"],
      ["GET", `/v1/admin/tenants/${tenant}/keys`, ""],
      ["DELETE", `/v1/admin/keys/${key}`, ""],
    ]);
    expect(authorizations).toEqual(Array(5).fill("Bearer admin-key-of-twenty-chars"));
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
