import { once } from "node:events";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { JobEvent, MAX_SEQ, SeqAfter } from "@plateau/contract";
import { jobEventsChannel } from "@plateau/queue";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import Type from "typebox";
import { callerOf } from "../auth";
import type { ApiDeps } from "../deps";
import { ApiError, ErrorRef, UNAVAILABLE_RETRY_AFTER_S, unavailableDependency } from "../errors";
import { SSE_BATCH_INTERVAL_MS, streamJobEvents, terminalStatus } from "../event-stream";
import { findJob, JobIdParams } from "../job-params";

/** GET /v1/jobs/:id/events: the job's event stream over Server-Sent Events, resumable. */
export const eventRoutes: FastifyPluginAsyncTypebox<ApiDeps> = async (app, { db, events, config }) => {
  // Open streams end when the server closes, so shutdown is not held up and clients reconnect elsewhere.
  const open = new Set<AbortController>();
  // Per API key, so one client cannot hold every connection this instance can serve.
  const streamsOf = new Map<string, number>();
  app.addHook("preClose", async () => {
    for (const controller of open) controller.abort();
  });

  app.get(
    "/v1/jobs/:id/events",
    {
      // "manual": always a stream, whatever the Accept header says; errors before the first event
      // (unknown job, bad Last-Event-ID) still answer in the JSON error shape.
      sse: "manual",
      errorHandler: comeBackLater,
      schema: {
        tags: ["jobs"],
        summary: "Stream a job's events (Server-Sent Events)",
        description:
          "Each event has `id: <seq>`, `event: <type>` (status, epoch_end, batch_end, callback, checkpoint) and " +
          "the event as JSON data. Resume with the Last-Event-ID header (browsers send it on reconnect) or " +
          "?after=<seq>: missed events come from Postgres, then live ones, none twice. After the terminal " +
          `status a \`done\` event {status, stop_reason} ends the stream. batch_end is sampled to at most one per ${SSE_BATCH_INTERVAL_MS} ms ` +
          "of training time (all sampled rows: GET /metrics?level=batch). Comment lines are heartbeats. " +
          "While Postgres is unavailable the answer is a 200 stream holding only `retry: 5000` (and a Retry-After " +
          "header), and an open stream that loses Postgres sends the same before it closes: reconnect with Last-Event-ID then.",
        params: JobIdParams,
        querystring: Type.Object({
          after: Type.Optional(SeqAfter("Start after this seq.")),
        }),
        headers: Type.Object({
          "last-event-id": Type.Optional(
            Type.String({
              pattern: "^[0-9]{1,10}$",
              description:
                "Takes precedence over ?after. A reconnect to a finished job's stream that already has its last event is a 204.",
            }),
          ),
        }),
        response: {
          200: {
            description: "text/event-stream of JobEvent data, ending with `done`.",
            content: { "text/event-stream": { schema: JobEvent } },
          },
          204: Type.Null({
            description:
              "Last-Event-ID is the finished job's last event: nothing more will come (an EventSource stops reconnecting).",
          }),
          400: ErrorRef,
          404: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const caller = callerOf(request);
      await findJob(db, id, caller.tenantId);
      const header = request.headers["last-event-id"];
      const after = header !== undefined ? Number(header) : (request.query.after ?? 0);
      if (!Number.isSafeInteger(after) || after > MAX_SEQ) {
        throw new ApiError(400, "invalid_request", "Last-Event-ID is not an event id of this stream.", [
          { path: "/headers/last-event-id", message: `must be an event id (0 to ${MAX_SEQ})` },
        ]);
      }
      // An EventSource reconnects whenever a stream ends, `done` or not; a reconnect that already has
      // the finished job's last event gets 204, the one answer that makes it stop.
      if (header !== undefined) {
        const terminal = await terminalStatus(db, id);
        if (terminal && terminal.seq <= after) return reply.code(204).send(null);
      }
      const streams = streamsOf.get(caller.keyId) ?? 0;
      if (streams >= config.MAX_STREAMS_PER_KEY) {
        throw new ApiError(
          429,
          "too_many_streams",
          `This API key already has ${streams} open event streams on this API instance (MAX_STREAMS_PER_KEY); close one or poll GET /v1/jobs/:id/metrics.`,
          [],
          { "retry-after": "5" },
        );
      }
      streamsOf.set(caller.keyId, streams + 1);
      const controller = new AbortController();
      let outage = false;
      open.add(controller);
      reply.sse.onClose(() => controller.abort());
      // The answer starts now, with its heartbeats, even for a client that already has every event so far:
      // a proxy waiting for headers would otherwise time out before the job's next event.
      reply.sse.sendHeaders();
      try {
        await streamJobEvents({
          db,
          hub: events,
          channel: jobEventsChannel(config, id),
          jobId: id,
          after,
          resyncMs: config.SSE_RESYNC_MS,
          signal: controller.signal,
          // Straight to the socket: the stream formats its frames itself, once per event for every
          // viewer, and writes a message's worth at a time.
          write: async (frames) => {
            reply.sse.sendHeaders();
            if (reply.raw.write(frames)) return;
            // The client reads slower than the job writes: wait until it has taken this, or is gone.
            await once(reply.raw, "drain", { signal: controller.signal }).catch(() => {});
          },
          onError: (error) => {
            request.log.warn({ err: error, jobId: id }, "event stream ended early");
            if (unavailableDependency(error) !== null) outage = true;
          },
        });
        // Postgres went away mid-stream: say when to reconnect (with Last-Event-ID) before closing.
        if (outage && reply.sse.isConnected) {
          await reply.sse.send({ retry: UNAVAILABLE_RETRY_AFTER_S * 1000, data: undefined });
        }
      } finally {
        open.delete(controller);
        const left = (streamsOf.get(caller.keyId) ?? 1) - 1;
        if (left > 0) streamsOf.set(caller.keyId, left);
        else streamsOf.delete(caller.keyId);
      }
    },
  );
};

/**
 * A dependency outage before the stream starts (Postgres down while the key, the job or the resume point
 * is read): a browser's EventSource gives up for good on any answer but 200, so the answer is a 200 event
 * stream that only says when to reconnect (`retry:`; the EventSource keeps its Last-Event-ID for that
 * reconnect), with Retry-After for other clients. Every other error goes on to the app's error handler.
 */
function comeBackLater(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const down = unavailableDependency(error);
  if (down === null || reply.raw.headersSent) throw error;
  request.log.warn(
    { err: error, dependency: down },
    "event stream unavailable; the client is told when to retry",
  );
  return reply
    .code(200)
    .headers({
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "retry-after": String(UNAVAILABLE_RETRY_AFTER_S),
    })
    .send(`retry: ${UNAVAILABLE_RETRY_AFTER_S * 1000}\n\n`);
}
