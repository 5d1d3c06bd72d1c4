import { describe, expect, it } from "vitest";
import { createFormatter } from "../scripts/dev-log";

const time = new Date(2026, 0, 1, 12, 0, 1).getTime();
const json = (line: Record<string, unknown>) =>
  JSON.stringify({ level: 30, time, pid: 1, hostname: "h", ...line });

describe("npm run dev's log view", () => {
  it("prints one line per request, when it completes: method, URL, status, time", () => {
    const format = createFormatter({ color: false });
    expect(format("==> /repo/.stack/logs/api.log <==")).toBeNull();
    const incoming = { reqId: "req-1", msg: "incoming request", req: { method: "GET", url: "/v1/jobs/abc" } };
    expect(format(json(incoming))).toBeNull();
    const done = {
      reqId: "req-1",
      msg: "request completed",
      res: { statusCode: 404 },
      responseTime: 3.4,
      job_id: "abc",
    };
    expect(format(json(done))).toBe("12:00:01 api    GET /v1/jobs/abc 404 3 ms");
  });

  it("prints other lines as level, message and their own fields, and colors them on a terminal", () => {
    const format = createFormatter({ color: false });
    format("==> .stack/logs/worker.log <==");
    const line = {
      level: 40,
      service: "worker",
      worker: "h:1",
      msg: "job attempt failed",
      job_id: "j",
      attempt: 2,
      err: { message: "S3 down", stack: "…" },
    };
    expect(format(json(line))).toBe(
      "12:00:01 worker warn  job attempt failed job_id=j attempt=2 err=S3 down",
    );
    expect(format("plain text from a crash")).toBe("         worker plain text from a crash");
    const colored = createFormatter({ color: true })(json({ level: 50, msg: "boom" }));
    expect(colored).toContain("\x1b[31merror");
  });
});
