import type { JobStatus, JobSummary } from "@plateau/contract";
import { api } from "../api";
import { formatNumber, formatTime, h } from "../dom";

const REFRESH_MS = 2000;
// The contract's JOB_STATUSES, typed against it; importing the value would bundle every TypeBox schema.
export const STATUSES: readonly JobStatus[] = ["queued", "running", "succeeded", "failed", "cancelled"];

/** The job list: status, progress, best, created; filtered by status (API) and name (here); refreshed live. */
export function jobsView(root: HTMLElement): () => void {
  const status = h(
    "select",
    { id: "status-filter" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const name = h("input", {
    id: "name-filter",
    type: "search",
    placeholder: "name contains…",
    autocomplete: "off",
  });
  const body = h("tbody");
  const message = h("p", { class: "message", role: "status" });
  root.replaceChildren(
    h("h1", {}, "Jobs"),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "status-filter" }, "Status"),
      status,
      h("label", { for: "name-filter" }, "Name"),
      name,
    ),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "jobs" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Name", "Status", "Progress", "Best", "Created"].map((title) =>
              h("th", { scope: "col" }, title),
            ),
          ),
        ),
        body,
      ),
    ),
    message,
  );

  let jobs: JobSummary[] = [];
  const draw = () => {
    const needle = name.value.trim().toLowerCase();
    const shown = jobs.filter((job) => job.name.toLowerCase().includes(needle));
    body.replaceChildren(...shown.map(row));
    message.textContent = shown.length === 0 ? "No jobs match." : "";
  };
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const refresh = async () => {
    try {
      const page = await api().listJobs({
        limit: 100,
        status: (status.value || undefined) as JobStatus | undefined,
      });
      if (stopped) return;
      jobs = page.items;
      draw();
    } catch (error) {
      message.textContent = (error as Error).message;
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  };
  status.addEventListener("change", () => {
    clearTimeout(timer);
    void refresh();
  });
  name.addEventListener("input", draw);
  void refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function row(job: JobSummary): HTMLTableRowElement {
  const done = job.epoch === null ? 0 : job.epoch + 1;
  return h(
    "tr",
    { "data-job": job.id },
    h("td", {}, h("a", { href: `#/jobs/${job.id}` }, job.name)),
    h("td", {}, h("span", { class: `status status-${job.status}` }, job.status)),
    h(
      "td",
      {},
      h("progress", { max: job.epochs, value: done, "aria-label": `${done} of ${job.epochs} epochs` }),
      ` ${done}/${job.epochs}`,
    ),
    h("td", {}, job.best ? `${job.best.monitor} ${formatNumber(job.best.value)}` : "—"),
    h("td", {}, formatTime(job.created_at)),
  );
}
