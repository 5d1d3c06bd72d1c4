import "./style.css";
import { ApiError } from "@plateau/client";
import { api, forgetKey, rememberKey, storedKey } from "./api";
import { h } from "./dom";
import { compareView } from "./views/compare";
import { jobView } from "./views/job";
import { jobsView } from "./views/jobs";
import { submitView } from "./views/submit";
import { workersView } from "./views/workers";

const main = document.getElementById("main")!;
const nav = document.getElementById("nav")!;
let leave: () => void = () => {};

/** Hash routes, so the API serves one page: #/, #/jobs/<id>, #/compare?ids=a,b, #/submit, #/workers. */
function route(): void {
  leave();
  const signedIn = storedKey() !== null;
  nav.hidden = !signedIn;
  if (!signedIn) {
    leave = signInView(main);
    return;
  }
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const job = /^\/jobs\/([0-9a-f-]{36})$/i.exec(path);
  if (job) leave = jobView(main, job[1]);
  else if (path === "/compare") {
    const ids = new URLSearchParams(query).get("ids");
    leave = compareView(main, ids ? ids.split(",").filter(Boolean) : []);
  } else if (path === "/submit") leave = submitView(main);
  else if (path === "/workers") leave = workersView(main);
  else leave = jobsView(main);
  main.focus({ preventScroll: true });
}

function signInView(root: HTMLElement): () => void {
  const key = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: false,
  });
  const message = h("p", { class: "message", role: "alert" });
  const form = h(
    "form",
    { class: "sign-in" },
    h("h1", {}, "Sign in"),
    h("label", { for: "api-key" }, "API key"),
    key,
    h("p", { class: "help" }, "Kept for this browser tab's session only (sessionStorage)."),
    h("button", { type: "submit" }, "Sign in"),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(key.value.trim()).listJobs({ limit: 1 });
      rememberKey(key.value.trim());
      route();
    } catch (error) {
      message.textContent =
        error instanceof ApiError && error.status === 401
          ? "That key was refused."
          : (error as Error).message;
    }
  });
  root.replaceChildren(form);
  key.focus();
  return () => {};
}

document.getElementById("sign-out")!.addEventListener("click", () => {
  forgetKey();
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
route();
