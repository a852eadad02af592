"""A flow's topology as data for the console to draw: tasks as nodes, flowables as groups around
their children, and the paths between them (next, branches, error and finally paths).

It walks the validated flow the compiler lowers (the same tasks, in the same nesting), as
`strato graph` does for Mermaid; the pages lay it out and colour it by the task runs' states.
"""

from __future__ import annotations

from stratoflow.console.models import Topology, TopologyEdge, TopologyNode
from stratoflow.flow import Flow
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import FlowableTask

BRANCHING = ("If", "Switch")
START, END, FAILURE = "__start__", "__end__", "__failure__"


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[TopologyNode] = []
        self.edges: list[TopologyEdge] = []

    def edge(self, source: str, target: str, kind: str = "next", label: str | None = None) -> None:
        self.edges.append(TopologyEdge(source=source, target=target, kind=kind, label=label))

    def link(
        self, sources: list[str], targets: list[str], kind: str = "next", label: str | None = None
    ) -> None:
        for source in sources:
            for target in targets:
                self.edge(source, target, kind, label)

    def block(self, tasks: list[Task], group: str | None) -> tuple[list[str], list[str]]:
        """Tasks in sequence: the entry and exit nodes of the block."""
        entries: list[str] = []
        exits: list[str] = []
        for task in (t for t in tasks if not t.disabled):
            t_entries, t_exits = self.task(task, group)
            if not entries:
                entries = t_entries
            self.link(exits, t_entries)
            exits = t_exits
        return entries, exits

    def task(self, task: Task, group: str | None) -> tuple[list[str], list[str]]:
        kind = "group" if isinstance(task, FlowableTask) else "task"
        self.nodes.append(TopologyNode(id=task.id, type=type(task).type_name, kind=kind, group=group))
        if not isinstance(task, FlowableTask):
            return [task.id], [task.id]
        name = type(task).type_name
        exits: list[str] = []
        if name == "Dag":
            ids = {node.task.id for node in task.tasks}  # type: ignore[attr-defined]
            for dag_node in task.tasks:  # type: ignore[attr-defined]
                d_entries, d_exits = self.task(dag_node.task, task.id)
                sources = [d for d in dag_node.depends_on if d in ids] or [task.id]
                self.link(sources, d_entries)
                exits.extend(d_exits)
            return [task.id], exits or [task.id]
        for label, children in task.child_lists():
            if label == "errors":
                continue
            c_entries, c_exits = self.block(children, task.id)
            kind_ = "branch" if name in BRANCHING else ("finally" if label == "finally" else "next")
            self.link([task.id], c_entries, kind_, label if name in BRANCHING else None)
            exits.extend(c_exits)
        errors = getattr(task, "errors", None)
        if errors:
            e_entries, _ = self.block(errors, task.id)
            self.link([task.id], e_entries, "error", "on error")
        return [task.id], exits or [task.id]


def flow_topology(flow: Flow) -> Topology:
    builder = _Builder()
    builder.nodes.append(TopologyNode(id=START, type="start", kind="start"))
    entries, exits = builder.block(flow.tasks, None)
    builder.link([START], entries)
    if flow.errors:
        builder.nodes.append(TopologyNode(id=FAILURE, type="failure", kind="failure"))
        e_entries, _ = builder.block(flow.errors, None)
        builder.link([FAILURE], e_entries, "error")
    if flow.finally_:
        f_entries, f_exits = builder.block(flow.finally_, None)
        builder.link(exits, f_entries, "finally", "finally")
        exits = f_exits
    builder.nodes.append(TopologyNode(id=END, type="end", kind="end"))
    builder.link(exits or [START], [END])
    return Topology(nodes=builder.nodes, edges=builder.edges)
