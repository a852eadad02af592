// Flows: the list by namespace, and one flow (source, validation, revisions, triggers, topology,
// start form, its recent executions).

import { api, enc } from "./api.js";
import { clear, fmtDate, h, stateBadge } from "./dom.js";
import { inputFields, startFormData } from "./forms.js";
import { drawTopology } from "./topology.js";

function main() {
  return document.getElementById("main");
}

export async function flowsPage() {
  document.title = "Flows · Stratoflow";
  const params = new URLSearchParams(window.location.search);
  const namespace = params.get("namespace") || "";
  const [{ flows }, { namespaces }] = await Promise.all([api.get("/flows", { namespace }), api.get("/namespaces")]);
  const select = h("select", { id: "namespace-filter", name: "namespace" },
    h("option", { value: "" }, "All namespaces"),
    namespaces.map((ns) => h("option", { value: ns, selected: ns === namespace || null }, ns)));
  const filter = h("form", { className: "filters", method: "get", action: "/ui/flows" },
    h("label", { for: "namespace-filter" }, "Namespace"), select, h("button", { type: "submit" }, "Show"));
  const rows = flows.map((f) => h("tr", {},
    h("td", {}, f.namespace),
    h("td", {}, h("a", { href: `/ui/flows/${enc(f.namespace)}/${enc(f.flowId)}` }, f.flowId)),
    h("td", {}, f.revision ?? "—"),
    h("td", {}, stateBadge(f.status), f.errors.length ? h("span", { className: "error" }, ` ${f.errors.length} error(s)`) : null),
    h("td", {}, f.triggerTypes.join(", ")),
    h("td", {}, f.description || "")));
  clear(main(),
    h("h1", {}, "Flows"),
    filter,
    flows.length
      ? h("table", { className: "list", id: "flows" },
          h("caption", {}, `${flows.length} flow(s)`),
          h("thead", {}, h("tr", {}, ["Namespace", "Flow", "Revision", "Status", "Triggers", "Description"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rows))
      : h("p", {}, "No flow is deployed. Put flow files in the server's --flows-dir."));
}

function sourceView(text, diagnostics = []) {
  const byLine = new Map();
  for (const d of diagnostics) {
    if (!byLine.has(d.line)) byLine.set(d.line, []);
    byLine.get(d.line).push(d);
  }
  const lines = text.split("\n");
  return h("ol", { className: "source", "aria-label": "Flow source with its problems" },
    lines.map((line, i) => {
      const problems = byLine.get(i + 1) || [];
      return h("li", { className: problems.length ? `line has-${problems[0].severity}` : "line" },
        h("code", {}, line || " "),
        problems.map((d) => h("div", { className: `diagnostic ${d.severity}`, role: d.severity === "error" ? "alert" : null },
          `${d.severity === "error" ? "Error" : "Warning"} at line ${d.line}, column ${d.column}${d.path ? " (" + d.path + ")" : ""}: ${d.message}`)));
    }));
}

function validator(flow) {
  const area = h("textarea", { id: "edited-source", rows: 16, spellcheck: "false", className: "editor" }, flow.source);
  const result = h("div", { id: "validation", "aria-live": "polite" });
  const button = h("button", { type: "button", id: "validate" }, "Validate");
  button.addEventListener("click", async () => {
    clear(result, h("p", {}, "Validating…"));
    try {
      const answer = await api.post("/flows/validate", { source: area.value, file: `${flow.flowId}.yaml` });
      const errors = answer.diagnostics.filter((d) => d.severity === "error");
      clear(result,
        h("p", { className: answer.valid ? "ok" : "error" },
          answer.valid ? `Valid${answer.diagnostics.length ? ` (${answer.diagnostics.length} warning(s))` : ""}.` : `${errors.length} error(s):`),
        answer.diagnostics.length ? sourceView(area.value, answer.diagnostics) : null);
    } catch (error) {
      clear(result, h("p", { role: "alert", className: "error" }, error.message));
    }
  });
  return h("section", { "aria-labelledby": "validate-title" },
    h("h2", { id: "validate-title" }, "Edit and validate"),
    h("p", { className: "help" }, "Nothing is saved: the flow file under --flows-dir is the source of truth."),
    h("label", { for: "edited-source" }, "Flow text"), area, h("div", {}, button), result);
}

function triggersView(triggers) {
  if (!triggers.length) return h("p", {}, "No trigger.");
  return h("ul", { className: "triggers" }, triggers.map((t) => h("li", {},
    h("strong", {}, t.id), ` ${t.type}`, t.disabled ? " (disabled)" : "",
    t.cron ? ` · ${t.cron} (${t.timezone})` : "",
    t.schedulerError ? h("span", { className: "error" }, ` ${t.schedulerError}`) : null,
    t.nextFires.length ? h("table", { className: "list compact" },
      h("caption", {}, `Next fire times of ${t.id}`),
      h("thead", {}, h("tr", {}, ["Local time", "UTC", "Daylight saving"].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, t.nextFires.map((f) => h("tr", { className: f.dst ? `dst-${f.dst}` : null },
        h("td", {}, f.local), h("td", {}, f.utc || "—"),
        h("td", {}, f.dst === "skipped" ? "skipped: DST jumps over it" : f.dst === "repeated" ? "repeated: runs once" : ""))))) : null)));
}

function startForm(flow) {
  const form = h("form", { id: "start-form", className: "start", "aria-labelledby": "start-title" });
  const labels = h("input", { id: "start-labels", type: "text", placeholder: "key:value, key:value" });
  const status = h("div", { id: "start-status", "aria-live": "polite" });
  form.append(...inputFields(flow.inputs),
    h("div", { className: "field" }, h("label", { for: "start-labels" }, "Labels"), labels,
      h("small", { className: "help" }, "optional, comma-separated key:value pairs")),
    h("button", { type: "submit" }, "Start execution"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status, h("p", {}, "Starting…"));
    try {
      const execution = await api.postForm(`/flows/${enc(flow.namespace)}/${enc(flow.flowId)}/executions`, startFormData(form, labels.value));
      window.location.assign(`/ui/executions/${enc(execution.id)}`);
    } catch (error) {
      clear(status, h("p", { role: "alert", className: "error" }, error.message));
    }
  });
  return h("section", {}, h("h2", { id: "start-title" }, "Start"), flow.revision ? form : h("p", {}, "The flow has no live revision."));
}

export async function flowPage(namespace, flowId) {
  document.title = `${namespace}.${flowId} · Stratoflow`;
  const base = `/flows/${enc(namespace)}/${enc(flowId)}`;
  const [flow, { revisions }, topology, recent] = await Promise.all([
    api.get(base), api.get(`${base}/revisions`), api.get(`${base}/topology`),
    api.get("/executions", { namespace, flowId, limit: 10 }),
  ]);
  const revisionView = h("div", { id: "revision-source" });
  const revisionList = h("ul", { className: "revisions" }, revisions.map((r) => h("li", {},
    h("button", { type: "button", className: "link", onclick: async () => {
      const shown = await api.get(`${base}/revisions/${r.revision}`);
      clear(revisionView, h("h3", {}, `Revision ${shown.revision}`), sourceView(shown.source));
    } }, `Revision ${r.revision}`), ` ${r.status} · ${fmtDate(r.created)}`)));
  clear(main(),
    h("p", { className: "crumbs" }, h("a", { href: "/ui/flows" }, "Flows"), ` / ${namespace}`),
    h("h1", {}, `${namespace}.${flowId}`),
    h("p", {}, stateBadge(flow.status), ` revision ${flow.revision ?? "—"}`, flow.description ? ` · ${flow.description}` : ""),
    flow.errors.length ? h("ul", { className: "error", role: "alert" }, flow.errors.map((e) => h("li", {}, e))) : null,
    h("div", { className: "columns" },
      h("div", {},
        startForm(flow),
        h("section", {}, h("h2", {}, "Triggers"), triggersView(flow.triggers)),
        h("section", {}, h("h2", {}, "Recent executions"),
          recent.executions.length ? h("ul", {}, recent.executions.map((e) => h("li", {},
            h("a", { href: `/ui/executions/${enc(e.id)}` }, e.id), " ", stateBadge(e.state), ` ${fmtDate(e.startDate)}`))) : h("p", {}, "None yet."),
          h("a", { href: `/ui/executions?namespace=${enc(namespace)}&flowId=${enc(flowId)}` }, "All executions of this flow")),
        h("section", {}, h("h2", {}, "Revisions"), revisionList, revisionView)),
      h("div", {},
        h("section", { className: "scroll" }, h("h2", {}, "Topology"), drawTopology(topology, {}, `Topology of ${namespace}.${flowId}`)),
        h("section", {}, h("h2", {}, "Source"), sourceView(flow.source)),
        validator(flow))));
}
