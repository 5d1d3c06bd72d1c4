import type { ErrorResponse, Issue } from "@plateau/contract";

/** The API answered with an error status; carries its `{error, message, details}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The API's short code, e.g. `invalid_spec`, `not_found`, `conflict`. */
    readonly code: string,
    message: string,
    readonly details: Issue[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Reads an error response; a body that is not the API's error shape (a proxy's page) is kept as text. */
  static async from(response: Response): Promise<ApiError> {
    const text = await response.text().catch(() => "");
    try {
      const body = JSON.parse(text) as Partial<ErrorResponse>;
      if (typeof body.error === "string" && typeof body.message === "string") {
        return new ApiError(response.status, body.error, body.message, body.details ?? []);
      }
    } catch {
      // Not JSON: fall through to the raw text.
    }
    const summary = text.trim().slice(0, 200) || response.statusText;
    return new ApiError(response.status, `http_${response.status}`, `HTTP ${response.status}: ${summary}`);
  }
}

/** No HTTP answer at all: nothing listens at the URL, DNS failed, or the connection broke. */
export class ApiUnreachableError extends Error {
  constructor(
    readonly baseUrl: string,
    cause: unknown,
  ) {
    super(`cannot reach the Plateau API at ${baseUrl} (${describeCause(cause)})`, { cause });
    this.name = "ApiUnreachableError";
  }
}

// fetch reports every network failure as TypeError("fetch failed"); the useful part is the cause's code.
function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
