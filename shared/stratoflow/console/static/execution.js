// One execution: its state and actions, the task runs on a timeline, the topology coloured by
// state, inputs (secrets masked), outputs and files, and its logs, live while it runs.

import { api, enc } from "./api.js";
import { clear, fmtDate, fmtDuration, h, stateBadge } from "./dom.js";
import { formValues, inputFields } from "./forms.js";
import { drawGantt } from "./gantt.js";
import { drawTopology } from "./topology.js";

const KILLABLE = ["CREATED", "QUEUED", "RUNNING", "PAUSED"];
const RESTARTABLE = ["FAILED", "KILLED"];
const TERMINAL = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "TIMED_OUT"];

function value(v) {
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function outputsView(outputs, execution) {
  const entries = Object.entries(outputs || {});
  if (!entries.length) return h("p", {}, "None.");
  return h("dl", { className: "values" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {},
    typeof v === "string" && v.startsWith("strato:///")
      ? h("a", { href: api.url(`/executions/${enc(execution.id)}/file`, { uri: v }) }, v.split("/").pop())
      : h("code", {}, value(v)))]));
}

function chainView(execution) {
  const link = (id) => h("a", { href: `/ui/executions/${enc(id)}` }, id);
  const parts = [];
  if (execution.parentExecutionId) parts.push("parent ", link(execution.parentExecutionId), " · ");
  if (execution.correlationId !== execution.id) parts.push("root ", link(execution.correlationId), " · ");
  if (execution.children.length) parts.push("subflows ", execution.children.flatMap((id) => [link(id), " "]), "· ");
  const whole = `/ui/executions?label=${enc(`system.correlationId:${execution.correlationId}`)}`;
  return h("p", { className: "chain" }, "Chain: ", parts, h("a", { href: whole, id: "chain-link" }, "every execution of this chain"));
}

function latestStates(taskRuns) {
  const states = {};
  for (const run of taskRuns) states[run.taskId] = run.state;
  return states;
}

export async function executionPage(executionId) {
  const main = document.getElementById("main");
  const path = `/executions/${enc(executionId)}`;
  const status = h("div", { id: "action-status", "aria-live": "polite" });
  const summary = h("div", { id: "summary" });
  const actions = h("div", { id: "actions", className: "actions" });
  const gantt = h("div", { id: "gantt", className: "scroll" });
  const topology = h("div", { id: "topology", className: "scroll" });
  const details = h("div", { id: "details", className: "columns" });
  const logs = h("ol", { id: "logs", className: "logs" });
  const taskFilter = h("select", { id: "log-task", name: "taskId" }, h("option", { value: "" }, "All tasks"));
  const levelFilter = h("select", { id: "log-level", name: "level" },
    ["", "DEBUG", "INFO", "WARN", "ERROR"].map((l) => h("option", { value: l }, l || "Every level")));
  let topologyDoc = null;
  let stream = null;
  let refreshed = 0;
  let pending = null;

  // While it runs, the timeline and topology follow the task runs, at most about once a second.
  function refreshSoon() {
    if (pending) return;
    const wait = Math.max(0, 1000 - (Date.now() - refreshed));
    pending = setTimeout(() => {
      pending = null;
      refresh().catch(() => {});
    }, wait);
  }

  async function act(what, call) {
    clear(status, h("p", {}, `${what}…`));
    try {
      const answer = await call();
      if (answer && answer.id && answer.id !== executionId) {
        window.location.assign(`/ui/executions/${enc(answer.id)}`);
        return;
      }
      clear(status, h("p", { className: "ok" }, `${what}: done.`));
      await refresh();
      follow();
    } catch (error) {
      clear(status, h("p", { role: "alert", className: "error" }, `${what}: ${error.message}`));
    }
  }

  function actionsView(execution, flow, taskRuns) {
    const items = [];
    if (KILLABLE.includes(execution.state)) {
      items.push(h("button", { type: "button", id: "kill", className: "danger", onclick: () => act("Kill", () => api.post(`${path}/kill`)) }, "Kill"));
    }
    if (RESTARTABLE.includes(execution.state)) {
      items.push(h("button", { type: "button", id: "restart", onclick: () => act("Restart", () => api.post(`${path}/restart`)) }, "Restart"));
    }
    if (TERMINAL.includes(execution.state) && flow) {
      const select = h("select", { id: "replay-task" }, flow.tasks.map((t) => h("option", { value: t.id }, t.id)));
      items.push(h("span", { className: "field" }, h("label", { for: "replay-task" }, "Replay from"), select,
        h("button", { type: "button", id: "replay", onclick: () => act("Replay", () => api.post(`${path}/replay`, { fromTask: select.value })) }, "Replay")));
    }
    const paused = taskRuns.find((r) => r.state === "PAUSED");
    if (paused && flow) {
      const task = flow.tasks.find((t) => t.id === paused.taskId);
      const form = h("form", { id: "resume-form", className: "start", "aria-label": `Resume ${paused.taskId}` },
        h("p", {}, `Paused at ${paused.taskId}.`), inputFields(task ? task.onResume : []),
        h("button", { type: "submit" }, "Resume"));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        act("Resume", () => api.post(`${path}/resume`, { inputs: formValues(form) }));
      });
      items.push(form);
    }
    return items.length ? items : [h("p", {}, "No action applies now.")];
  }

  async function refresh() {
    refreshed = Date.now();
    const [execution, { taskRuns }] = await Promise.all([api.get(path), api.get(`${path}/taskruns`)]);
    let flow = null;
    try {
      flow = await api.get(`/flows/${enc(execution.namespace)}/${enc(execution.flowId)}`);
    } catch { /* a deleted flow: the history stays readable */ }
    if (!topologyDoc) {
      try {
        topologyDoc = await api.get(`/flows/${enc(execution.namespace)}/${enc(execution.flowId)}/topology`, { revision: execution.revision });
      } catch { topologyDoc = { nodes: [], edges: [] }; }
    }
    const files = await api.get(`${path}/files`);
    document.title = `${execution.id} ${execution.state} · Stratoflow`;
    const known = new Set([...taskFilter.options].map((o) => o.value));
    for (const run of taskRuns) {
      if (!known.has(run.taskId)) {
        taskFilter.append(h("option", { value: run.taskId }, run.taskId));
        known.add(run.taskId);
      }
    }
    clear(summary,
      h("p", {}, stateBadge(execution.state), " ",
        h("a", { href: `/ui/flows/${enc(execution.namespace)}/${enc(execution.flowId)}` }, `${execution.namespace}.${execution.flowId}`),
        ` revision ${execution.revision} · started ${fmtDate(execution.startDate)}`,
        execution.durationMs !== null ? ` · ${fmtDuration(execution.durationMs)}` : "",
        execution.restarts ? ` · restarted ${execution.restarts} time(s)` : ""),
      execution.error ? h("p", { className: "error" }, execution.error) : null,
      execution.originalExecutionId ? h("p", {}, "Replay of ", h("a", { href: `/ui/executions/${enc(execution.originalExecutionId)}` }, execution.originalExecutionId)) : null,
      chainView(execution));
    // Rebuilt only when what applies changes: a refresh must not reset a form being filled in.
    const paused = taskRuns.find((r) => r.state === "PAUSED");
    const applies = `${execution.state}|${paused ? paused.id : ""}|${flow ? flow.revision : ""}`;
    if (actions.getAttribute("data-applies") !== applies) {
      actions.setAttribute("data-applies", applies);
      clear(actions, actionsView(execution, flow, taskRuns));
    }
    clear(gantt, drawGantt(taskRuns, execution));
    clear(topology, topologyDoc.nodes.length ? drawTopology(topologyDoc, latestStates(taskRuns), `Topology of ${execution.flowId} coloured by state`) : null);
    clear(details,
      h("section", {}, h("h2", {}, "Inputs"), outputsView(execution.inputs, execution)),
      h("section", {}, h("h2", {}, "Outputs"), outputsView(execution.outputs, execution)),
      h("section", {}, h("h2", {}, "Files"), files.files.length
        ? h("ul", {}, files.files.map((f) => h("li", {}, h("a", { href: api.url(`${path}/file`, { uri: f.uri }) }, f.name))))
        : h("p", {}, "None.")));
    return execution;
  }

  function follow() {
    if (stream) stream.close();
    clear(logs);
    const url = api.url(`${path}/logs/stream`, { taskId: taskFilter.value, level: levelFilter.value });
    stream = new EventSource(url);
    stream.addEventListener("log", (event) => {
      const line = JSON.parse(event.data);
      logs.append(h("li", { className: `log level-${line.level.toLowerCase()}` },
        h("time", { datetime: line.timestamp }, fmtDate(line.timestamp)), " ",
        h("span", { className: "level" }, line.level), " ",
        h("span", { className: "task" }, line.taskId || "-"), " ", line.message));
      refreshSoon();
    });
    stream.addEventListener("state", () => refresh().catch(() => {}));
    stream.addEventListener("end", () => {
      stream.close();
      logs.setAttribute("data-ended", "true");
      refresh().catch(() => {});
    });
  }

  taskFilter.addEventListener("change", follow);
  levelFilter.addEventListener("change", follow);
  clear(main,
    h("p", { className: "crumbs" }, h("a", { href: "/ui/executions" }, "Executions")),
    h("h1", {}, `Execution ${executionId}`),
    summary,
    h("section", { "aria-labelledby": "actions-title" }, h("h2", { id: "actions-title" }, "Actions"), actions, status),
    h("section", {}, h("h2", {}, "Timeline"), gantt),
    h("section", {}, h("h2", {}, "Topology"), topology),
    details,
    h("section", { "aria-labelledby": "logs-title" }, h("h2", { id: "logs-title" }, "Logs"),
      h("div", { className: "filters" }, h("label", { for: "log-task" }, "Task"), taskFilter, h("label", { for: "log-level" }, "Level"), levelFilter),
      h("div", { role: "log", "aria-label": "Log lines" }, logs)));
  await refresh();
  follow();
}
