"""Changes to the Python code Jinja generates, so that the sandbox sees what it must bound.

- attribute and item lookups pass the dotted path of the object they read from, so an undefined
  value can be named in full (`'outputs.extract' is undefined`);
- `~` concatenation goes through `environment.concat`, which refuses oversized strings;
- every `{% for %}` iterates through the `__sf_iterate__` filter, which charges the operation budget;
- the `a ?? b` / `a ??? b` filters (see `operators`) compile to a lazy conditional: `b` is evaluated
  only when `a` is missing. (Jinja forbids custom node types, hence filters as markers.)
"""

from __future__ import annotations

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst

from stratoflow.expressions.operators import COALESCE_FILTER, UNDEFINED_COALESCE_FILTER

ITERATE_FILTER = "__sf_iterate__"


def describe(node: nodes.Node) -> str | None:
    """The dotted path an expression reads (`outputs.extract.value`), or None when it is computed."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = describe(node.node)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = describe(node.node)
        return None if base is None else f"{base}[{node.arg.value!r}]"
    return None


def transform(template: nodes.Template) -> nodes.Template:
    """Route the iterable of every `{% for %}` through the `ITERATE_FILTER` (see `loop_items`)."""
    for loop in template.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, ITERATE_FILTER, [], [], None, None, lineno=loop.iter.lineno)
    return template


class SandboxCodeGenerator(CodeGenerator):
    """Jinja's code generator with the hooks listed in the module docstring."""

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        self.write("environment.getattr(")
        self.visit(node.node, frame)
        self.write(f", {node.attr!r}, {describe(node.node)!r})")

    @optimizeconst
    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if isinstance(node.arg, nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.getitem(")
        self.visit(node.node, frame)
        self.write(", ")
        self.visit(node.arg, frame)
        self.write(f", {describe(node.node)!r})")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    @optimizeconst
    def visit_Filter(self, node: nodes.Filter, frame: Frame) -> None:
        if node.name not in (COALESCE_FILTER, UNDEFINED_COALESCE_FILTER):
            super().visit_Filter(node, frame)
            return
        # `left ?? right` is lazy: an assignment expression evaluates `left` once, `right` only
        # when `left` is missing.
        value = self.temporary_identifier()
        self.write(f"({value} if not environment.is_missing(({value} := ")
        assert node.node is not None
        self.visit(node.node, frame)
        self.write(f"), {node.name == UNDEFINED_COALESCE_FILTER!r}) else ")
        self.visit(node.args[0], frame)
        self.write(")")
