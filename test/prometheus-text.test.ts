import { describe, expect, it } from "vitest";
import { countOf, parseExposition, sampleValue, typeOf } from "./prometheus-text";

const histogram = [
  "# HELP t_seconds Time.",
  "# TYPE t_seconds histogram",
  't_seconds_bucket{le="0.1",route="/a/:id"} 1',
  't_seconds_bucket{le="+Inf",route="/a/:id"} 3',
  't_seconds_sum{route="/a/:id"} 0.5',
  't_seconds_count{route="/a/:id"} 3',
  't_seconds_bucket{le="0.1",route="/b"} 0',
  't_seconds_bucket{le="+Inf",route="/b"} 1',
  't_seconds_sum{route="/b"} 2',
  't_seconds_count{route="/b"} 1',
];

describe("the Prometheus text reader the /metrics tests use", () => {
  it("reads types, labeled series and histogram counts per series", () => {
    const text = [
      "# HELP up_total Ups, with \\\\ and \\n.",
      "# TYPE up_total counter",
      'up_total{path="C:\\\\x",msg="say \\"hi\\""} 2',
      ...histogram,
      "",
    ].join("\n");
    const parsed = parseExposition(text);
    expect(typeOf(parsed, "up_total")).toBe("counter");
    expect(parsed.get("up_total")?.help).toBe("Ups, with \\ and \n.");
    expect(sampleValue(parsed, "up_total", { path: "C:\\x", msg: 'say "hi"' })).toBe(2);
    expect(countOf(parsed, "t_seconds", { route: "/a/:id" })).toBe(3);
    expect(countOf(parsed, "t_seconds", { route: "/b" })).toBe(1);
    expect(countOf(parsed, "t_seconds", { route: "/c" })).toBe(0);
    expect(() => countOf(parsed, "t_seconds")).toThrow(/2 series/);
  });

  it("refuses what Prometheus would not read", () => {
    const refused = [
      "up 1", // no family declared
      "# TYPE up gauge\nup{a=1} 1",
      "# TYPE up gauge\nup one",
      "# TYPE up gauge\n# TYPE up gauge\nup 1",
      "# TYPE up gauge\nup_count 1",
      "# TYPE up thing\nup 1",
      histogram.filter((line) => !line.includes('le="+Inf",route="/b"')).join("\n"),
      histogram
        .map((line) => line.replace('le="+Inf",route="/a/:id"} 3', 'le="+Inf",route="/a/:id"} 0'))
        .join("\n"),
    ];
    for (const text of refused) expect(() => parseExposition(text), text).toThrow();
  });
});
