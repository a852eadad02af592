"""`strato graph`: a Mermaid flowchart of a flow (tasks, branches, loops, error paths)."""

from __future__ import annotations

import re

from stratoflow.flow.model import Flow
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import FlowableTask

LOOPS = {"ForEach", "EachSequential", "EachParallel", "WaitFor"}


def _node_id(task_id: str) -> str:
    return "t_" + re.sub(r"[^A-Za-z0-9_]", "_", task_id)


def _label(task: Task) -> str:
    return f"{task.id}<br/><small>{type(task).type_name}</small>".replace('"', "'")


class Mermaid:
    def __init__(self) -> None:
        self.lines: list[str] = ["flowchart TD"]

    def node(self, task: Task, indent: str) -> None:
        shape = ("{{", "}}") if type(task).type_name in ("If", "Switch") else ("[", "]")
        self.lines.append(f'{indent}{_node_id(task.id)}{shape[0]}"{_label(task)}"{shape[1]}')

    def edge(self, source: str, target: str, label: str | None = None, dashed: bool = False) -> None:
        arrow = "-.->" if dashed else "-->"
        text = f"|{label}|" if label else ""
        self.lines.append(f"  {source} {arrow}{text} {target}")

    def block(self, tasks: list[Task], indent: str = "  ") -> tuple[list[str], list[str]]:
        """Draw tasks in sequence; returns the entry nodes and the exit nodes of the block."""
        entries: list[str] = []
        exits: list[str] = []
        for task in [t for t in tasks if not t.disabled]:
            t_entries, t_exits = self.task(task, indent)
            if not entries:
                entries = t_entries
            for source in exits:
                for target in t_entries:
                    self.edge(source, target)
            exits = t_exits
        return entries, exits

    def task(self, task: Task, indent: str) -> tuple[list[str], list[str]]:
        name = type(task).type_name
        node = _node_id(task.id)
        if not isinstance(task, FlowableTask):
            self.node(task, indent)
            return [node], [node]
        if name in LOOPS:
            self.lines.append(f'{indent}subgraph {node}_loop["{task.id} ({name})"]')
            body = [child for _, children in task.body_lists() for child in children]
            entries, loop_exits = self.block(body, indent + "  ")
            self.lines.append(f"{indent}end")
            self.node(task, indent)
            for target in entries:
                self.edge(node, target)
            return [node], loop_exits or [node]
        self.node(task, indent)
        exits: list[str] = []
        if name == "Dag":
            ids = {n.task.id for n in task.tasks}  # type: ignore[attr-defined]
            for dag_node in task.tasks:  # type: ignore[attr-defined]
                d_entries, d_exits = self.task(dag_node.task, indent)
                sources = [_node_id(d) for d in dag_node.depends_on if d in ids] or [node]
                for source in sources:
                    for target in d_entries:
                        self.edge(source, target)
                exits.extend(d_exits)
            return [node], exits or [node]
        for label, children in task.child_lists():
            if label in ("errors",):
                continue
            c_entries, c_exits = self.block(children, indent)
            for target in c_entries:
                self.edge(node, target, label if name in ("If", "Switch") else None)
            exits.extend(c_exits or [])
        if task.errors:
            e_entries, _ = self.block(task.errors, indent)
            for target in e_entries:
                self.edge(node, target, "on error", dashed=True)
        return [node], exits or [node]


def flow_mermaid(flow: Flow) -> str:
    """The flow's tasks as a Mermaid flowchart (`strato graph`)."""
    graph = Mermaid()
    graph.lines.append('  start(("start"))')
    entries, exits = graph.block(flow.tasks)
    for target in entries:
        graph.edge("start", target)
    if flow.errors:
        graph.lines.append('  failure(("on failure"))')
        e_entries, _ = graph.block(flow.errors)
        for target in e_entries:
            graph.edge("failure", target, dashed=True)
    if flow.finally_:
        f_entries, f_exits = graph.block(flow.finally_)
        for source in exits:
            for target in f_entries:
                graph.edge(source, target, "finally")
        exits = f_exits
    graph.lines.append('  finish(("end"))')
    for source in exits:
        graph.edge(source, "finish")
    return "\n".join(graph.lines) + "\n"
