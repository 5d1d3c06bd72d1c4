import { setTimeout as delay } from "node:timers/promises";
import type { DoneData, StreamEvent, TypedJobEvent } from "@plateau/contract";
import type { EventSourceMessage } from "eventsource-parser";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { ApiError, ApiUnreachableError } from "./errors";

export interface StreamEventsOptions {
  /** Start after this seq (0: from the beginning). */
  after?: number;
  /** Aborting ends the iteration by throwing the signal's reason, as fetch does. */
  signal?: AbortSignal;
  /** Wait before reconnecting, until the server sets its own with `retry:`. Default 1000 ms. */
  retryMs?: number;
  /** Failed connection attempts in a row, with no event in between, before giving up. Default 5. */
  maxRetries?: number;
  /** Called before each reconnect, e.g. to tell a user that the connection dropped. */
  onReconnect?: (info: { attempt: number; after: number; error: unknown }) => void;
}

export interface ApiTarget {
  baseUrl: string;
  fetch: typeof fetch;
}

/**
 * A job's events in seq order, each once, ending with `done`. When the connection drops or the server
 * ends the stream early (an API instance restarting), it reconnects with `Last-Event-ID` = the last seq
 * it yielded, so the API resends exactly what was missed. Errors the API answers with (unknown job:
 * 404) are thrown as ApiError without retrying; 5xx answers and network failures are retried.
 */
export async function* streamEvents(
  source: ApiTarget,
  jobId: string,
  options: StreamEventsOptions = {},
): AsyncGenerator<StreamEvent, void, undefined> {
  const { signal, maxRetries = 5, onReconnect } = options;
  const url = `${source.baseUrl}/v1/jobs/${encodeURIComponent(jobId)}/events`;
  let last = options.after ?? 0;
  let retryMs = options.retryMs ?? 1000;
  let failures = 0;
  for (;;) {
    let error: unknown;
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (last > 0) headers["last-event-id"] = String(last);
      const response = await source.fetch(url, { headers, signal });
      if (response.status === 204) {
        // The job had finished and its last event was already ours: the API says nothing more will
        // come (the stream's `done` was lost with the connection), so done comes from the job itself.
        yield { seq: null, type: "done", data: await finalStatus(source, jobId, signal) };
        return;
      }
      if (!response.ok) {
        const apiError = await ApiError.from(response);
        if (response.status < 500) throw apiError;
        error = apiError;
      } else if (!response.body) {
        error = new Error("the event stream response has no body");
      } else {
        // Node's web streams are async iterable (leaving the loop cancels the response); the DOM
        // typings do not say so.
        const messages = response.body
          .pipeThrough(new TextDecoderStream())
          .pipeThrough(
            new EventSourceParserStream({ onRetry: (ms) => (retryMs = ms) }),
          ) as unknown as AsyncIterable<EventSourceMessage>;
        for await (const message of messages) {
          if (message.event === "done") {
            yield { seq: null, type: "done", data: JSON.parse(message.data) as DoneData };
            return;
          }
          const event = JSON.parse(message.data) as TypedJobEvent;
          // The server never repeats a seq; this guards a consumer against a misbehaving proxy.
          if (event.seq <= last) continue;
          last = event.seq;
          failures = 0;
          yield event;
        }
        error = new Error("the event stream ended before the job finished");
      }
    } catch (caught) {
      if (signal?.aborted) throw signal.reason;
      if (caught instanceof ApiError) throw caught;
      error = caught;
    }
    failures += 1;
    if (failures > maxRetries) {
      throw error instanceof ApiError || !(error instanceof TypeError)
        ? error
        : new ApiUnreachableError(source.baseUrl, error);
    }
    onReconnect?.({ attempt: failures, after: last, error });
    await delay(retryMs, undefined, { signal }).catch(() => {
      throw signal?.reason;
    });
  }
}

async function finalStatus(source: ApiTarget, jobId: string, signal?: AbortSignal): Promise<DoneData> {
  const response = await source.fetch(`${source.baseUrl}/v1/jobs/${encodeURIComponent(jobId)}`, { signal });
  if (!response.ok) throw await ApiError.from(response);
  const job = (await response.json()) as DoneData;
  return { status: job.status, stop_reason: job.stop_reason };
}
