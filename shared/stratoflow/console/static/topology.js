// The flow's topology as SVG: nodes in rows by their longest distance from the start, groups
// (flowables) drawn as boxes around their members, error and finally paths dashed. Coloured by the
// task runs' states when `states` maps task ids to a state.

import { h } from "./dom.js";

const W = 150, H = 40, GAP_X = 26, GAP_Y = 46, PAD = 12;

function ranks(topology) {
  const rank = new Map(topology.nodes.map((n) => [n.id, 0]));
  const order = new Map(topology.nodes.map((n, i) => [n.id, i]));
  // Longest path; edges point forward in the builder's order except none (a DAG), so relax in rounds.
  for (let round = 0; round < topology.nodes.length; round += 1) {
    let changed = false;
    for (const e of topology.edges) {
      if (!rank.has(e.source) || !rank.has(e.target)) continue;
      const wanted = rank.get(e.source) + 1;
      if (wanted > rank.get(e.target)) {
        rank.set(e.target, wanted);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const end = topology.nodes.find((n) => n.kind === "end");
  if (end) rank.set(end.id, Math.max(...rank.values()) + (rank.get(end.id) === Math.max(...rank.values()) ? 0 : 1));
  return { rank, order };
}

function layout(topology) {
  const { rank, order } = ranks(topology);
  const rows = new Map();
  for (const node of topology.nodes) {
    const r = rank.get(node.id);
    if (!rows.has(r)) rows.set(r, []);
    rows.get(r).push(node);
  }
  const widest = Math.max(...[...rows.values()].map((row) => row.length));
  const width = widest * (W + GAP_X) + PAD * 4;
  const pos = new Map();
  for (const [r, row] of rows) {
    row.sort((a, b) => order.get(a.id) - order.get(b.id));
    const rowWidth = row.length * (W + GAP_X) - GAP_X;
    row.forEach((node, i) => {
      pos.set(node.id, { x: (width - rowWidth) / 2 + i * (W + GAP_X), y: PAD * 3 + r * (H + GAP_Y) });
    });
  }
  const height = (Math.max(...rows.keys()) + 1) * (H + GAP_Y) + PAD * 4;
  return { pos, width, height };
}

function members(topology, groupId) {
  const out = new Set([groupId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const node of topology.nodes) {
      if (node.group && out.has(node.group) && !out.has(node.id)) {
        out.add(node.id);
        grew = true;
      }
    }
  }
  return out;
}

function label(node) {
  if (node.kind === "start") return "start";
  if (node.kind === "end") return "end";
  if (node.kind === "failure") return "on failure";
  return node.id;
}

export function drawTopology(topology, states = {}, title = "Flow topology") {
  const { pos, width, height } = layout(topology);
  const groups = topology.nodes.filter((n) => n.kind === "group");
  const boxes = groups.map((group) => {
    const ids = [...members(topology, group.id)];
    const xs = ids.map((id) => pos.get(id).x), ys = ids.map((id) => pos.get(id).y);
    const x = Math.min(...xs) - 8, y = Math.min(...ys) - 20;
    return h("g", { className: "topo-group" },
      h("rect", { x, y, width: Math.max(...xs) - x + W + 8, height: Math.max(...ys) - y + H + 8, rx: 8 }),
      h("text", { x: x + 6, y: y + 13 }, `${group.id} (${group.type})`));
  });
  const edges = topology.edges.map((e) => {
    const a = pos.get(e.source), b = pos.get(e.target);
    if (!a || !b) return null;
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    const midY = (y1 + y2) / 2;
    return h("g", { className: `topo-edge topo-edge-${e.kind}` },
      h("path", { d: `M${x1},${y1} C${x1},${midY} ${x2},${midY} ${x2},${y2 - 4}`, "marker-end": "url(#arrow)" }),
      e.label ? h("text", { x: (x1 + x2) / 2 + 4, y: midY - 2 }, e.label) : null);
  });
  const nodes = topology.nodes.map((node) => {
    const p = pos.get(node.id);
    const state = states[node.id];
    const cls = `topo-node topo-${node.kind}` + (state ? ` state-${state.toLowerCase()}` : "");
    return h("g", { className: cls, "data-task": node.id, "data-state": state || "" },
      h("title", {}, `${label(node)} ${node.kind === "task" || node.kind === "group" ? node.type : ""}${state ? ": " + state : ""}`),
      h("rect", { x: p.x, y: p.y, width: W, height: H, rx: node.kind === "task" || node.kind === "group" ? 6 : 20 }),
      h("text", { x: p.x + W / 2, y: p.y + (node.kind === "task" || node.kind === "group" ? 17 : 25), "text-anchor": "middle", className: "topo-id" }, label(node).slice(0, 22)),
      node.kind === "task" || node.kind === "group"
        ? h("text", { x: p.x + W / 2, y: p.y + 32, "text-anchor": "middle", className: "topo-type" }, (state ? `${state} · ` : "") + node.type)
        : null);
  });
  return h("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": title, className: "topology" },
    h("defs", {}, h("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      h("path", { d: "M 0 0 L 10 5 L 0 10 z", className: "topo-arrow" }))),
    boxes, edges, nodes);
}
