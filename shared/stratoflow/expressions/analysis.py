"""Static checks on a template, for `strato validate`: syntax errors and referenced task outputs."""

from __future__ import annotations

import functools

from jinja2 import nodes

from stratoflow.expressions.environment import ENVIRONMENT, compile_template, parse
from stratoflow.expressions.errors import ExpressionError, ExpressionSyntaxError

# The trees are only read here, so one parse serves both checks of a template.
_tree = functools.lru_cache(maxsize=1024)(parse)

# Names Jinja defines inside templates, callable without being in the functions.
_TEMPLATE_CALLABLES = frozenset({"caller", "loop", "self", "super", "varargs", "kwargs"})


def _declared_names(tree: nodes.Template) -> set[str]:
    """Names a template defines itself: macros, their arguments, `set` and `for` targets, imports."""
    declared: set[str] = set()
    for macro in tree.find_all(nodes.Macro):
        declared.add(macro.name)
        declared.update(argument.name for argument in macro.args)
    for node in tree.find_all((nodes.Assign, nodes.AssignBlock, nodes.For)):
        target: nodes.Expr = node.target  # type: ignore[attr-defined]
        declared.update(name.name for name in target.find_all(nodes.Name))
        if isinstance(target, nodes.Name):
            declared.add(target.name)
    for imported in tree.find_all(nodes.Import):
        declared.add(imported.target)
    for from_import in tree.find_all(nodes.FromImport):
        declared.update(name if isinstance(name, str) else name[1] for name in from_import.names)
    return declared


def syntax_errors(template: str) -> list[ExpressionSyntaxError]:
    """The problems found without rendering: syntax, unknown filters and tests, unknown functions."""
    if "{{" not in template and "{%" not in template:
        return []
    try:
        compile_template(template)
        tree = _tree(template)
    except ExpressionSyntaxError as error:
        return [error]
    except ExpressionError as error:
        return [ExpressionSyntaxError(str(error))]
    known = _declared_names(tree) | set(ENVIRONMENT.globals) | _TEMPLATE_CALLABLES
    return [
        ExpressionSyntaxError(f"unknown function '{call.node.name}'", call.lineno)
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name) and call.node.name not in known
    ]


def _is_outputs(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "outputs"


def referenced_outputs(template: str) -> set[str]:
    """Task ids read as `outputs.<id>` or `outputs['<id>']`; empty for a template that does not parse."""
    if "outputs" not in template:
        return set()
    try:
        tree = _tree(template)
    except ExpressionError:
        return set()
    referenced: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and _is_outputs(node.node):
            referenced.add(node.attr)
        elif isinstance(node, nodes.Getitem) and _is_outputs(node.node) and isinstance(node.arg, nodes.Const):
            referenced.update([node.arg.value] if isinstance(node.arg.value, str) else [])
    return referenced
