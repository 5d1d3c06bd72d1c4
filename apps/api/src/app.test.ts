import { pino } from "pino";
import Type from "typebox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, createApp } from "./app";
import { ApiError } from "./errors";

let app: App;

beforeAll(async () => {
  app = await createApp({ MAX_INLINE_BYTES: 1024 }, pino({ level: "silent" }));
  app.post(
    "/things",
    {
      schema: {
        body: Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            epochs: Type.Integer({ minimum: 1 }),
            callbacks: Type.Array(
              Type.Object(
                { type: Type.String(), factor: Type.Number({ exclusiveMaximum: 1 }) },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ name: Type.String(), epochs: Type.Integer() }) },
      },
    },
    async (request, reply) => reply.code(201).send({ name: request.body.name, epochs: request.body.epochs }),
  );
  app.get(
    "/things",
    {
      schema: {
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }) }),
      },
    },
    async (request) => ({ limit: request.query.limit }),
  );
  app.post("/conflict", async () => {
    throw new ApiError(409, "conflict", "The job has already finished.");
  });
  app.get("/boom", async () => {
    throw new Error("password=hunter2 leaked from a driver");
  });
  await app.ready();
});

afterAll(() => app.close());

describe("one error shape", () => {
  it("reports every invalid field of a body at once, each with its JSON path", async () => {
    const response = await app.inject({
      method: "POST",
      url: "/things",
      payload: {
        epochs: "50",
        colour: "red",
        callbacks: [{ type: "ReduceLROnPlateau", factor: 2, patience: 5 }],
      },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.error).toBe("invalid_request");
    expect(typeof body.message).toBe("string");
    expect(body.details).toEqual(
      expect.arrayContaining([
        { path: "/name", message: "is required" },
        { path: "/epochs", message: expect.stringContaining("integer") },
        { path: "/colour", message: "is not a known property" },
        { path: "/callbacks/0/factor", message: "must be < 1" },
        { path: "/callbacks/0/patience", message: "is not a known property" },
      ]),
    );
    expect(body.details).toHaveLength(5);
  });

  it("accepts a valid body", async () => {
    const response = await app.inject({
      method: "POST",
      url: "/things",
      payload: { name: "iris", epochs: 5, callbacks: [{ type: "ReduceLROnPlateau", factor: 0.2 }] },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ name: "iris", epochs: 5 });
  });

  it("converts query strings to their types and prefixes their problems with the part", async () => {
    expect((await app.inject({ url: "/things?limit=7" })).json()).toEqual({ limit: 7 });
    expect((await app.inject({ url: "/things" })).json()).toEqual({ limit: 20 });
    const response = await app.inject({ url: "/things?limit=1000" });
    expect(response.statusCode).toBe(400);
    expect(response.json().details).toEqual([{ path: "/querystring/limit", message: "must be <= 100" }]);
  });

  it("answers malformed JSON, oversized bodies and unknown routes in the same shape", async () => {
    const malformed = await app.inject({
      method: "POST",
      url: "/things",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error: "bad_request", details: [] });

    const large = await app.inject({
      method: "POST",
      url: "/things",
      payload: { name: "x".repeat(2000), epochs: 1, callbacks: [] },
    });
    expect(large.statusCode).toBe(413);
    expect(large.json()).toMatchObject({ error: "payload_too_large", details: [] });

    const missing = await app.inject({ url: "/v1/nothing?x=1" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      error: "not_found",
      message: "There is no route GET /v1/nothing.",
      details: [],
    });
  });

  it("passes ApiError through and hides the internals of unexpected errors", async () => {
    const conflict = await app.inject({ method: "POST", url: "/conflict" });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toEqual({
      error: "conflict",
      message: "The job has already finished.",
      details: [],
    });

    const boom = await app.inject({ url: "/boom" });
    expect(boom.statusCode).toBe(500);
    expect(boom.json().error).toBe("internal_error");
    expect(boom.body).not.toContain("hunter2");
    expect(boom.json().message).toMatch(/request id req-\w+/);
  });

  it("documents the routes, their schemas and the error shape at /openapi.json", async () => {
    const response = await app.inject({ url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(["/things", "/conflict", "/boom"]));
    expect(Object.keys(document.paths)).not.toContain("/openapi.json");
    expect(document.paths["/things"].post.requestBody.content["application/json"].schema.required).toEqual([
      "name",
      "epochs",
      "callbacks",
    ]);
    expect(document.components.schemas.ErrorResponse.required).toEqual(["error", "message", "details"]);
  });
});
