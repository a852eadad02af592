"""Task types by name: the one place the flow model looks a `type:` up.

Modules add task types with `@register`; the flow model never lists them. The built-in task modules
are named here by string and imported with importlib, one at a time, on the first lookup of a name
none of the imported ones registered. That deferred import is deliberate twice over: a flow of `Log`
and `Return` tasks never pays for the HTTP client's imports (urllib, ssl, email) or the models of the
flowable tasks, and the language (`stratoflow.flow`) never imports `stratoflow.tasks`, which builds on
it. Listing the names (`names()`, the JSON Schema, suggestions) imports them all.
"""

from __future__ import annotations

import importlib

from stratoflow.flow.fields import did_you_mean
from stratoflow.flow.task import Task

# The core task types, most used first: a lookup imports the next module until one registers the name.
BUILTIN_MODULES: tuple[str, ...] = (
    "stratoflow.tasks.core",
    "stratoflow.tasks.flowable",
    "stratoflow.tasks.native",
    "stratoflow.tasks.kv",
    "stratoflow.tasks.http",
    "stratoflow.tasks.storage",
    "stratoflow.tasks.working_directory",
)
# Searched after the core types: task families that may be installed or not, and whose imports are
# heavier.
EXTENSION_MODULES: tuple[str, ...] = (
    "stratoflow.tasks.aws",
    "stratoflow.tasks.scripts.tasks",
    "stratoflow.tasks.notifications",
    "stratoflow.tasks.serdes",
    "stratoflow.tasks.git",
    "stratoflow.tasks.jdbc",
)

# Module-global on purpose: a task class registers itself when its module is imported, and which
# modules are imported is a fact of the process (Python's import system is process-wide). The tables
# only grow, by importing; nothing else writes them, so there is no state to reset between flows.
_by_name: dict[str, type[Task]] = {}
_canonical: dict[str, type[Task]] = {}
_loaded: set[str] = set()


def kestra_aliases(group: str, name: str, legacy_group: str | None = None) -> tuple[str, ...]:
    """Kestra's full names of a core task: `io.kestra.plugin.core.<group>.<Name>` and the legacy form."""
    legacy = legacy_group or group
    return (f"io.kestra.plugin.core.{group}.{name}", f"io.kestra.core.tasks.{legacy}.{name}")


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: make `cls` resolvable by its `type_name` and every alias."""
    for name in (cls.type_name, *cls.aliases):
        existing = _by_name.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(
                f"task type '{name}' is already registered by {existing.__module__}.{existing.__qualname__}"
            )
        _by_name[name] = cls
    _canonical[cls.type_name] = cls
    return cls


def _load(modules: tuple[str, ...]) -> None:
    for module in modules:
        if module in _loaded:
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # An extension family that is not installed is simply absent; any other missing module
            # is a real bug in the family and must surface.
            if err.name != module:
                raise
        # Marked once imported, not before: another thread resolving a name meanwhile waits on the
        # import lock instead of skipping a half-imported module.
        _loaded.add(module)


def load_all() -> None:
    """Import every known task module, so `names()` and the JSON Schema see all types."""
    _load(BUILTIN_MODULES + EXTENSION_MODULES)


def resolve(name: str) -> type[Task] | None:
    """The task class registered under a canonical name or alias, or None."""
    cls = _by_name.get(name)
    for module in BUILTIN_MODULES + EXTENSION_MODULES:
        if cls is not None:
            break
        if module not in _loaded:
            _load((module,))
            cls = _by_name.get(name)
    return cls


def registered(name: str) -> type[Task] | None:
    """The class registered under `name` if its module is imported already, else None; imports
    nothing: no task of a type can exist in the process before its module is imported."""
    return _by_name.get(name)


def canonical_name(name: str) -> str | None:
    cls = resolve(name)
    return cls.type_name if cls is not None else None


def names() -> list[str]:
    """Canonical names of every registered task type, sorted."""
    load_all()
    return sorted(_canonical)


def all_names() -> list[str]:
    """Canonical names and aliases, sorted."""
    load_all()
    return sorted(_by_name)


def task_classes() -> list[type[Task]]:
    """Every registered task class, in canonical-name order."""
    load_all()
    return [_canonical[name] for name in sorted(_canonical)]


def suggest(name: str) -> str | None:
    """The registered name closest to a misspelled one (canonical names preferred), or None."""
    load_all()
    canonical, every = sorted(_canonical), sorted(_by_name)
    if name.startswith("io."):
        # A Kestra-style full name: answer in the same style.
        return did_you_mean(name, every) or did_you_mean(name, canonical)
    return did_you_mean(name, canonical) or did_you_mean(name, every)
