// Executions: a filterable list, newest first, one page at a time (the filters live in the URL).

import { api, enc } from "./api.js";
import { clear, fmtDate, fmtDuration, h, stateBadge } from "./dom.js";

const STATES = ["CREATED", "QUEUED", "RUNNING", "PAUSED", "SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "TIMED_OUT"];
const FILTERS = [
  ["namespace", "Namespace", "text"],
  ["flowId", "Flow id", "text"],
  ["label", "Label (key:value)", "text"],
  ["since", "Started from (UTC)", "datetime-local"],
  ["until", "Started before (UTC)", "datetime-local"],
];

function asUtc(value) {
  return value ? `${value}${value.length === 16 ? ":00" : ""}Z` : "";
}

export async function executionsPage() {
  document.title = "Executions · Stratoflow";
  const params = new URLSearchParams(window.location.search);
  const form = h("form", { className: "filters", method: "get", action: "/ui/executions", id: "execution-filters" },
    FILTERS.map(([name, text, type]) => h("span", { className: "field" },
      h("label", { for: `filter-${name}` }, text),
      h("input", { id: `filter-${name}`, name, type, value: params.get(name) || "" }))),
    h("span", { className: "field" }, h("label", { for: "filter-state" }, "State"),
      h("select", { id: "filter-state", name: "state" }, h("option", { value: "" }, "Any"),
        STATES.map((s) => h("option", { value: s, selected: params.get("state") === s || null }, s)))),
    h("button", { type: "submit" }, "Filter"));
  const query = {
    namespace: params.get("namespace"), flowId: params.get("flowId"), state: params.get("state"),
    label: params.get("label"), since: asUtc(params.get("since")), until: asUtc(params.get("until")),
    cursor: params.get("cursor"), limit: params.get("limit") || 50,
  };
  let page;
  let problem = null;
  try {
    page = await api.get("/executions", query);
  } catch (error) {
    page = { executions: [], nextCursor: null };
    problem = h("p", { role: "alert", className: "error" }, error.message);
  }
  const next = new URLSearchParams(params);
  if (page.nextCursor) next.set("cursor", page.nextCursor);
  const first = new URLSearchParams(params);
  first.delete("cursor");
  clear(document.getElementById("main"),
    h("h1", {}, "Executions"), form, problem,
    h("table", { className: "list", id: "executions" },
      h("caption", {}, `${page.executions.length} execution(s) on this page, newest first`),
      h("thead", {}, h("tr", {}, ["Execution", "Flow", "State", "Started", "Duration", "Labels"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, page.executions.map((e) => h("tr", {},
        h("td", {}, h("a", { href: `/ui/executions/${enc(e.id)}` }, e.id)),
        h("td", {}, `${e.namespace}.${e.flowId}`),
        h("td", {}, stateBadge(e.state)),
        h("td", {}, fmtDate(e.startDate)),
        h("td", {}, fmtDuration(e.durationMs)),
        h("td", {}, Object.entries(e.labels).filter(([k]) => !k.startsWith("system.")).map(([k, v]) => `${k}:${v}`).join(", ")))))),
    h("nav", { className: "pager", "aria-label": "Pages" },
      params.get("cursor") ? h("a", { href: `/ui/executions?${first}` }, "Newest") : null, " ",
      page.nextCursor ? h("a", { href: `/ui/executions?${next}`, id: "next-page", rel: "next" }, "Older executions") : null));
}
