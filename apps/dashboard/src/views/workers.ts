import { ApiError } from "@plateau/client";
import type { WorkerEntry } from "@plateau/contract";
import { h } from "../dom";

const ADMIN_KEY = "plateau.adminKey";
const REFRESH_MS = 5000;

/** The fleet (GET /v1/workers): it needs the admin key, asked for here and kept for the tab's session only. */
export function workersView(root: HTMLElement): () => void {
  const key = h("input", { id: "admin-key", type: "password", autocomplete: "off", spellcheck: false });
  const body = h("tbody");
  const message = h("p", { class: "message", role: "status" });
  const form = h(
    "form",
    { class: "filters" },
    h("label", { for: "admin-key" }, "Admin key"),
    key,
    h("button", { type: "submit" }, "Show workers"),
  );
  root.replaceChildren(
    h("h1", {}, "Workers"),
    form,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Worker", "Backend", "Device", "Training", "Started", "Last heartbeat"].map((title) =>
              h("th", { scope: "col" }, title),
            ),
          ),
        ),
        body,
      ),
    ),
    message,
  );
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const refresh = async () => {
    clearTimeout(timer);
    const admin = sessionStorage.getItem(ADMIN_KEY);
    if (admin === null || stopped) return;
    try {
      const response = await fetch("/v1/workers", { headers: { authorization: `Bearer ${admin}` } });
      if (!response.ok) throw await ApiError.from(response);
      const { items } = (await response.json()) as { items: WorkerEntry[] };
      body.replaceChildren(...items.map(row));
      message.textContent = items.length === 0 ? "No live workers." : "";
    } catch (error) {
      message.textContent = (error as Error).message;
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(ADMIN_KEY, key.value.trim());
    void refresh();
  });
  void refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function row(worker: WorkerEntry): HTMLTableRowElement {
  return h(
    "tr",
    { "data-worker": worker.id },
    h("td", {}, worker.id),
    h("td", {}, worker.backend),
    h("td", {}, worker.device),
    h(
      "td",
      {},
      worker.current_jobs.length === 0
        ? "idle"
        : worker.current_jobs.map((id) => h("a", { href: `#/jobs/${id}` }, `${id.slice(0, 8)} `)),
    ),
    h("td", {}, new Date(worker.started_at).toLocaleString()),
    h("td", {}, new Date(worker.last_heartbeat_at).toLocaleTimeString()),
  );
}
