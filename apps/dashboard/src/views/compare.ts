import type { Job, JobSummary } from "@plateau/contract";
import { api } from "../api";
import { Chart } from "../chart";
import { h } from "../dom";
import { JobSeries, X_LABELS } from "../series";
import { viewControls } from "./controls";
import { MAX_POINTS } from "./job";

/** Inline data can hold thousands of numbers; the table compares settings, not data. */
const SKIPPED_PATHS = [/^data\/(x|y)$/, /^data\/validation\/(x|y)$/];

/** Several jobs' same metric on one chart, and the settings in which their specs differ. */
export function compareView(root: HTMLElement, chosen: string[]): () => void {
  const client = api();
  const picker = h("fieldset", { class: "picker" }, h("legend", {}, "Jobs"));
  const metric = h("select", { id: "metric" });
  const controls = viewControls({}, () => draw());
  const chart = new Chart("comparison");
  const table = h("div", { class: "table-wrap" });
  const message = h("p", { class: "message", role: "status" });
  root.replaceChildren(
    h("h1", {}, "Compare"),
    picker,
    h("div", { class: "controls" }, h("label", { for: "metric" }, "Metric "), metric),
    controls.element,
    chart.element,
    h("h2", {}, "Spec differences"),
    table,
    message,
  );
  const loaded = new Map<string, { job: Job; series: JobSeries }>();

  const draw = () => {
    const { axis, smoothing } = controls.value();
    const runs = chosen.flatMap((id) => (loaded.has(id) ? [loaded.get(id)!] : []));
    const names = [...new Set(runs.flatMap((run) => run.series.groups("epoch").flat()))].sort();
    const current = metric.value || (names.includes("loss") ? "loss" : names[0]);
    metric.replaceChildren(
      ...names.map((name) => h("option", { value: name, selected: name === current }, name)),
    );
    const lines = runs.map(({ job, series }) => ({
      ...series.lines("epoch", [current], axis)[0],
      label: `${job.name} (${job.id.slice(0, 8)})`,
    }));
    chart.update(lines, [], { smoothing, log: false, xLabel: X_LABELS[axis] });
    table.replaceChildren(differences(runs.map((run) => run.job)));
  };
  metric.addEventListener("change", draw);

  const choose = (ids: string[]) => {
    chosen = ids;
    history.replaceState(null, "", `#/compare?ids=${ids.join(",")}`);
    void load();
  };

  const load = async () => {
    try {
      for (const id of chosen.filter((id) => !loaded.has(id))) {
        const series = new JobSeries();
        const page = await client.metrics(id, { level: "epoch", max_points: MAX_POINTS });
        series.addHistory("epoch", page.items, page.next_after);
        loaded.set(id, { job: await client.getJob(id), series });
      }
      message.textContent = chosen.length < 2 ? "Pick two or more jobs." : "";
      draw();
    } catch (error) {
      message.textContent = (error as Error).message;
    }
  };

  const listJobs = async () => {
    const { items } = await client.listJobs({ limit: 100 });
    picker.append(...items.map((job) => checkbox(job)));
  };
  const checkbox = (job: JobSummary) => {
    const box = h("input", {
      type: "checkbox",
      value: job.id,
      checked: chosen.includes(job.id),
      "data-job": job.id,
    });
    box.addEventListener("change", () =>
      choose(box.checked ? [...chosen, job.id] : chosen.filter((id) => id !== job.id)),
    );
    return h(
      "label",
      { class: "pick" },
      box,
      ` ${job.name} `,
      h("small", {}, `${job.status}, ${job.id.slice(0, 8)}`),
    );
  };
  listJobs().catch((error) => (message.textContent = (error as Error).message));
  void load();
  return () => chart.destroy();
}

/** A table with one row per spec setting whose value is not the same in every job. */
function differences(jobs: Job[]): HTMLElement {
  if (jobs.length < 2) return h("p", {}, "Pick two or more jobs to compare their specs.");
  const flat = jobs.map((job) => flatten(job.spec));
  const paths = [...new Set(flat.flatMap((values) => [...values.keys()]))].sort();
  const differing = paths.filter((path) => new Set(flat.map((values) => values.get(path) ?? "—")).size > 1);
  if (differing.length === 0) return h("p", {}, "Their specs are the same.");
  return h(
    "table",
    { class: "diff" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Setting"),
        jobs.map((job) => h("th", { scope: "col" }, `${job.name} (${job.id.slice(0, 8)})`)),
      ),
    ),
    h(
      "tbody",
      {},
      differing.map((path) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, path),
          flat.map((values) => h("td", {}, values.get(path) ?? "—")),
        ),
      ),
    ),
  );
}

/** JSON pointer-like paths (callbacks/0/factor) to leaf values, as text. */
function flatten(value: unknown, path = "", into = new Map<string, string>()): Map<string, string> {
  if (SKIPPED_PATHS.some((skipped) => skipped.test(path))) return into;
  if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) flatten(child, path ? `${path}/${key}` : key, into);
  } else {
    into.set(path, JSON.stringify(value));
  }
  return into;
}
