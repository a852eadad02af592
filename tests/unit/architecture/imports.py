"""The imports of shared/stratoflow, read from the AST of every module (nothing is imported or run).

Every `import` and `from ... import` counts, wherever it stands: at module level, under
`if TYPE_CHECKING:` (a circle that only the type checker sees is still a circle in the design) and
inside functions (an import moved into a function to dodge a circle is still the same arrow).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "shared" / "stratoflow"


@dataclass(frozen=True)
class Import:
    """One import statement of a Stratoflow module naming a Stratoflow module."""

    source: str  # the importing module, e.g. stratoflow.execution.admission
    target: str  # the imported module, e.g. stratoflow.store.base
    path: Path
    line: int
    in_function: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def package_of(module: str) -> str:
    """stratoflow.execution.runner.context -> execution; stratoflow.errors -> errors (a kernel module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class Codebase:
    """The modules of the package and every import between them."""

    def __init__(self, package: Path = PACKAGE) -> None:
        self.files = {module_name(path): path for path in sorted(package.rglob("*.py"))}

    @cached_property
    def trees(self) -> dict[str, ast.Module]:
        return {name: ast.parse(path.read_text(), str(path)) for name, path in self.files.items()}

    @cached_property
    def imports(self) -> list[Import]:
        return [found for name in self.files for found in self._imports_of(name)]

    def _imports_of(self, module: str) -> Iterator[Import]:
        path = self.files[module]
        for node, in_function in _walk(self.trees[module], in_function=False):
            for target in self._targets(module, path, node):
                if target.split(".")[0] == "stratoflow" and target != module:
                    yield Import(module, target, path, node.lineno, in_function)

    def _targets(self, module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if node.level:
            base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        # `from stratoflow.store import rules` imports the module stratoflow.store.rules.
        submodules = [
            f"{origin}.{alias.name}" for alias in node.names if f"{origin}.{alias.name}" in self.files
        ]
        named = [alias.name for alias in node.names if f"{origin}.{alias.name}" not in self.files]
        return submodules + ([origin] if named else [])

    def package_edges(self) -> dict[tuple[str, str], list[Import]]:
        """(importing package, imported package) -> the imports that draw that arrow."""
        edges: dict[tuple[str, str], list[Import]] = {}
        for found in self.imports:
            pair = (package_of(found.source), package_of(found.target))
            if pair[0] != pair[1] and "stratoflow" not in pair:
                edges.setdefault(pair, []).append(found)
        return edges

    def module_edges(self, package: str) -> dict[tuple[str, str], list[Import]]:
        """The arrows between the modules of one package."""
        edges: dict[tuple[str, str], list[Import]] = {}
        for found in self.imports:
            if package_of(found.source) == package == package_of(found.target):
                edges.setdefault((found.source, found.target), []).append(found)
        return edges

    def in_function_imports(self) -> list[Import]:
        """One per import statement inside a function (a statement naming two modules counts once)."""
        statements = {(found.path, found.line): found for found in self.imports if found.in_function}
        return list(statements.values())


def _walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, inside)


def circles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted, biggest first."""
    graph: dict[str, list[str]] = {}
    for source, target in sorted(edges):
        graph.setdefault(source, []).append(target)
        graph.setdefault(target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return sorted(found, key=lambda c: (-len(c), c))
