"""What a template refers to, read from its syntax tree once, when it is compiled: the functions it
calls and the task outputs it reads. Validation checks these facts without parsing the template again."""

from __future__ import annotations

from jinja2 import nodes

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


def called_functions(tree: nodes.Template) -> tuple[tuple[str, int], ...]:
    """(name, line) of every call of a name the template does not define itself, in source order."""
    own = _declared_names(tree) | _TEMPLATE_CALLABLES
    return tuple(
        (call.node.name, call.lineno)
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name) and call.node.name not in own
    )


def _read_members(tree: nodes.Template, variable: str) -> frozenset[str]:
    """Names read as `<variable>.<name>` or `<variable>['<name>']`, unless the template sets
    `variable` itself."""
    if variable in _declared_names(tree):
        return frozenset()
    referenced: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node  # type: ignore[attr-defined]
        if not (isinstance(base, nodes.Name) and base.name == variable):
            continue
        if isinstance(node, nodes.Getattr):
            referenced.add(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            referenced.update([node.arg.value] if isinstance(node.arg.value, str) else [])
    return frozenset(referenced)


def read_outputs(tree: nodes.Template) -> frozenset[str]:
    """Task ids read as `outputs.<id>` or `outputs['<id>']`."""
    return _read_members(tree, "outputs")


def read_inputs(tree: nodes.Template) -> frozenset[str]:
    """Input ids read as `inputs.<id>` or `inputs['<id>']`."""
    return _read_members(tree, "inputs")
