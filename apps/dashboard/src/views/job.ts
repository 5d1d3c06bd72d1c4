import type { Job } from "@plateau/contract";
import { api } from "../api";
import { Chart, type ChartView, MARKER_COLORS } from "../chart";
import { copyText, formatNumber, formatTime, h } from "../dom";
import { JobSeries, LEARNING_RATE, type Level, X_LABELS } from "../series";
import { viewControls } from "./controls";

/** Points per series the page asks for: a long job's history arrives downsampled, never whole. */
export const MAX_POINTS = 1000;

/**
 * A job: its state, actions (cancel, model URLs, CSVLogger files) and live charts. History comes from
 * the downsampled metrics endpoint, then the event stream adds what happens next and every callback marker.
 */
export function jobView(root: HTMLElement, id: string): () => void {
  const abort = new AbortController();
  const client = api();
  const series = new JobSeries();
  const charts = new Map<string, Chart>();
  const summary = h("dl", { class: "summary" });
  const status = h("p", { class: "message", role: "status", "aria-live": "polite" });
  const markerList = h("ul", { class: "markers", "aria-label": "Callback decisions" });
  const chartArea = h("div", { class: "charts" });
  const files = h("ul", { class: "files" });
  const cancel = h("button", { type: "button", id: "cancel" }, "Cancel job");
  const copyBest = h("button", { type: "button", id: "copy-best" }, "Copy best checkpoint URL");
  const copyModel = h("button", { type: "button", id: "copy-model" }, "Copy final model URL");
  const title = h("h1", {}, "Job");
  const controls = viewControls({ level: true, log: true }, () => redraw());
  root.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, "← Jobs")),
    title,
    summary,
    h("div", { class: "actions" }, cancel, copyBest, copyModel),
    status,
    controls.element,
    chartArea,
    h("h2", {}, "Callback decisions"),
    markerList,
    h("h2", {}, "Files"),
    files,
  );

  let job: Job | null = null;
  let frame = 0;
  const redraw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };

  const draw = () => {
    const { level, axis, smoothing, log } = controls.value();
    const shownLevel: Level = level === "batch" && series.count("batch") > 0 ? "batch" : "epoch";
    const markers = series.markers(axis);
    const view: ChartView = { smoothing, log: false, xLabel: X_LABELS[axis] };
    const wanted = series.groups(shownLevel);
    const keys = wanted.map((names) => names.join(","));
    for (const [key, chart] of charts) {
      if (keys.includes(key)) continue;
      chart.destroy();
      chart.element.remove();
      charts.delete(key);
    }
    for (const names of wanted) {
      const key = names.join(",");
      let chart = charts.get(key);
      if (!chart) {
        chart = new Chart(names[0] === LEARNING_RATE ? "learning rate" : names.join(" · "));
        charts.set(key, chart);
      }
      chartArea.append(chart.element);
      const isRate = names[0] === LEARNING_RATE;
      // The learning rate is a setting, not a noisy measurement: never smoothed, log scale on request.
      chart.update(
        series.lines(shownLevel, names, axis),
        markers,
        isRate ? { ...view, log, smoothing: 0, raw: false } : view,
      );
    }
    markerList.replaceChildren(
      ...markers.map((marker) =>
        h(
          "li",
          { "data-kind": marker.kind, style: `--marker: ${MARKER_COLORS[marker.kind] ?? "#475569"}` },
          marker.message,
        ),
      ),
    );
    if (markers.length === 0) markerList.replaceChildren(h("li", {}, "None yet."));
  };

  const showJob = (latest: Job) => {
    job = latest;
    title.textContent = latest.name;
    // Each worker's run of the job, and how the ones before the last ended (a lost worker, a shutdown…).
    const runs = (latest as Job & { attempts?: { attempt: number; ending: string | null }[] }).attempts;
    const attempts = runs
      ? runs
          .map(
            (run) => `#${run.attempt}${run.ending && run.ending !== "completed" ? ` (${run.ending})` : ""}`,
          )
          .join(", ") || "none yet"
      : String(series.attempts());
    const entries: [string, string][] = [
      ["Status", latest.status],
      ["Progress", `${latest.epoch === null ? 0 : latest.epoch + 1} / ${latest.epochs} epochs`],
      [
        "Best",
        latest.best
          ? `${latest.best.monitor} ${formatNumber(latest.best.value)} (epoch ${latest.best.epoch + 1})`
          : "—",
      ],
      ["Learning rate", formatNumber(latest.learning_rate)],
      ["Attempts", attempts],
      ["Stop reason", latest.stop_reason ?? "—"],
      ["Created", formatTime(latest.created_at)],
      ["Backend", latest.backend ?? "—"],
    ];
    if (latest.error) entries.push(["Error", latest.error]);
    summary.replaceChildren(
      ...entries.flatMap(([term, value]) => [h("dt", {}, term), h("dd", { "data-field": term }, value)]),
    );
    summary.dataset.status = latest.status;
    cancel.disabled = latest.status !== "queued" && latest.status !== "running";
  };

  const refreshJob = async () => showJob(await client.getJob(id));

  const loadFiles = async () => {
    const list = await client.files(id);
    files.replaceChildren(
      ...list.items.map((file) => {
        const button = h(
          "button",
          { type: "button", class: "link" },
          `Download ${file.name} (${file.size_bytes} bytes)`,
        );
        button.addEventListener("click", async () => {
          const text = await client.fileText(id, file.name);
          const link = h("a", {
            href: URL.createObjectURL(new Blob([text], { type: file.content_type })),
            download: file.name,
          });
          link.click();
          URL.revokeObjectURL(link.href);
        });
        return h("li", {}, button);
      }),
    );
    if (list.items.length === 0)
      files.replaceChildren(h("li", {}, "No files (a CSVLogger callback writes one)."));
  };

  cancel.addEventListener("click", async () => {
    try {
      const result = await client.cancel(id);
      status.textContent = `Cancel requested (${result.status}).`;
      await refreshJob();
    } catch (error) {
      status.textContent = (error as Error).message;
    }
  });
  copyBest.addEventListener("click", async () => {
    try {
      await copyText((await client.bestCheckpoint(id)).model_url, status, "Best checkpoint URL");
    } catch (error) {
      status.textContent = (error as Error).message;
    }
  });
  copyModel.addEventListener("click", async () => {
    try {
      await copyText((await client.finalModel(id)).model_url, status, "Final model URL");
    } catch (error) {
      status.textContent = (error as Error).message;
    }
  });

  const follow = async () => {
    await refreshJob();
    for (const level of ["epoch", "batch"] as const) {
      const page = await client.metrics(id, { level, max_points: MAX_POINTS });
      series.addHistory(level, page.items, page.next_after);
    }
    redraw();
    for await (const event of client.streamEvents(id, { signal: abort.signal })) {
      if (event.type === "done") break;
      if (series.addEvent(event)) redraw();
      if (event.type === "status" || (event.type === "epoch_end" && job)) void refreshJob().catch(() => {});
    }
    await Promise.all([refreshJob(), loadFiles()]);
    redraw();
  };
  follow().catch((error) => {
    if (!abort.signal.aborted) status.textContent = (error as Error).message;
  });
  void loadFiles().catch(() => {});
  return () => {
    abort.abort();
    cancelAnimationFrame(frame);
    for (const chart of charts.values()) chart.destroy();
  };
}
