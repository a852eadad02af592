// Task runs on a timeline: one row per task run (loop iterations are rows of their own), one bar per
// attempt, coloured by the attempt's state.

import { h, fmtDuration } from "./dom.js";

const ROW = 24, LEFT = 220, RIGHT = 20, WIDTH = 900;

export function drawGantt(taskRuns, execution) {
  if (!taskRuns.length) return h("p", {}, "No task run yet.");
  const now = Date.now();
  const begin = Math.min(...taskRuns.map((r) => Date.parse(r.startDate)), Date.parse(execution.startDate));
  const ends = taskRuns.flatMap((r) => r.attempts.map((a) => (a.endDate ? Date.parse(a.endDate) : now)));
  const finish = Math.max(...ends, execution.endDate ? Date.parse(execution.endDate) : begin + 1, begin + 1);
  const scale = (WIDTH - LEFT - RIGHT) / (finish - begin);
  const rows = taskRuns.map((run, i) => {
    const y = 24 + i * ROW;
    const name = run.value !== null && run.value !== undefined ? `${run.taskId} [${run.value}]` : run.taskId;
    const bars = (run.attempts.length ? run.attempts : [{ state: run.state, startDate: run.startDate, endDate: run.endDate }]).map((a, n) => {
      const start = Date.parse(a.startDate), end = a.endDate ? Date.parse(a.endDate) : now;
      const x = LEFT + (start - begin) * scale;
      return h("rect", { x, y: y + 4, width: Math.max(2, (end - start) * scale), height: ROW - 8, rx: 3,
        className: `gantt-bar state-${String(a.state).toLowerCase()}` },
        h("title", {}, `${name} attempt ${n + 1}: ${a.state}, ${fmtDuration(end - start)}${a.error ? " — " + a.error : ""}`));
    });
    return h("g", { className: "gantt-row", "data-task": run.taskId },
      h("text", { x: 8, y: y + ROW / 2 + 4, className: "gantt-label" }, name.slice(0, 30)),
      bars,
      run.attempts.length > 1 ? h("text", { x: WIDTH - RIGHT, y: y + ROW / 2 + 4, "text-anchor": "end", className: "gantt-label" }, `${run.attempts.length} attempts`) : null);
  });
  const height = 32 + taskRuns.length * ROW;
  return h("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, role: "img", className: "gantt",
    "aria-label": `Timeline of ${taskRuns.length} task runs over ${fmtDuration(finish - begin)}` },
    h("text", { x: LEFT, y: 14, className: "gantt-axis" }, "0"),
    h("text", { x: WIDTH - RIGHT, y: 14, "text-anchor": "end", className: "gantt-axis" }, fmtDuration(finish - begin)),
    rows);
}
