import pRetry from "p-retry";
import { userMessage } from "./user-error";

/**
 * One write of a job's artifacts (S3, and the Postgres row that records it), retried through an outage with
 * exponential backoff and full jitter, 0.5 s up to 10 s between tries, until `deadlineMs` has passed since
 * the first try; then the last error stands and the job's attempt fails with it. A write the job itself
 * made impossible (a file name S3 cannot store) fails at once.
 */
export function retryS3<T>(
  write: () => Promise<T>,
  options: { deadlineMs: number; onRetry?: (error: unknown, attempt: number) => void },
): Promise<T> {
  return pRetry(write, {
    retries: Number.POSITIVE_INFINITY,
    minTimeout: 500,
    maxTimeout: 10_000,
    factor: 2,
    randomize: true,
    maxRetryTime: options.deadlineMs,
    shouldRetry: ({ error }) => userMessage(error) === null,
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0) options.onRetry?.(error, attemptNumber);
    },
  });
}
