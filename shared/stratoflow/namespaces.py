"""Namespaces are the boundary between flows: which namespace's KV, files and executions' files a flow
may reach. The one rule, applied the same way by the local engine and the task-runner Lambda:

- its own namespace: read and write;
- its parent namespaces (`company` for a flow of `company.team`): read, as Kestra inherits them;
- any other namespace: read and write only when that namespace lists the flow's namespace in its
  `allowedNamespaces` (set by the namespace's owner with `strato namespaces allow`);
- reserved namespaces (every name starting with `_`: the deployer's registry `_deployer`, the
  allow-lists themselves `_namespaces`): never, from any flow. Flow namespaces start with a letter or
  digit, so no flow can be in one.

The allow-lists are records of the execution store's KV under the reserved namespace `_namespaces`
(one per namespace that allows others): flows cannot change them, and they are the same on every store.
The same record holds the namespace's plugin defaults (`strato namespaces defaults`, Kestra's
namespace-level `pluginDefaults`), which every flow of the namespace and of its child namespaces gets
(`stratoflow.flow.namespace_defaults`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from stratoflow.errors import StratoflowError

CONFIG_NAMESPACE = "_namespaces"
RESERVED_PREFIX = "_"
# "*" allows every (non-reserved) namespace, as Kestra's allowed namespace "*" does.
ANY_NAMESPACE = "*"

Access = Literal["read", "write"]


class NamespaceAccessDenied(StratoflowError):
    """A flow reached for a namespace it may not use."""


class KeyValues(Protocol):
    """Where namespace settings are kept: the execution store's KV."""

    def kv_get(self, namespace: str, key: str) -> tuple[bool, Any]: ...

    def kv_set(self, namespace: str, key: str, value: Any, ttl_seconds: int | None = None) -> None: ...


def is_reserved(namespace: str) -> bool:
    """Internal namespaces no flow may reach (the one rule: they start with `_`)."""
    return namespace.startswith(RESERVED_PREFIX)


def parents(namespace: str) -> list[str]:
    """`a.b.c` -> `['a.b', 'a']`, nearest first."""
    parts = namespace.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _settings(store: KeyValues, namespace: str) -> dict[str, Any]:
    found, value = store.kv_get(CONFIG_NAMESPACE, namespace)
    return value if found and isinstance(value, dict) else {}


def allowed_namespaces(store: KeyValues, namespace: str) -> list[str]:
    """The namespaces `namespace` lets in (its owner's allow-list), sorted; empty when none."""
    return sorted(str(item) for item in _settings(store, namespace).get("allowedNamespaces", []))


def set_allowed_namespaces(store: KeyValues, namespace: str, allowed: list[str]) -> None:
    """Replace the allow-list of `namespace` (what `strato namespaces allow|deny` write)."""
    for name in [namespace, *allowed]:
        if not name or is_reserved(name):
            raise ValueError(f"namespace {name!r} is reserved or empty: it cannot be allowed or allow")
    settings = _settings(store, namespace)
    store.kv_set(CONFIG_NAMESPACE, namespace, {**settings, "allowedNamespaces": sorted(set(allowed))})


def plugin_defaults(store: KeyValues, namespace: str) -> list[dict[str, Any]]:
    """The plugin defaults `namespace` itself sets (its parents' not included), as stored."""
    entries = _settings(store, namespace).get("pluginDefaults", [])
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []


def inherited_plugin_defaults(store: KeyValues, namespace: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(namespace, its plugin defaults) for `namespace` and each parent that sets some, nearest first."""
    found = [(name, plugin_defaults(store, name)) for name in [namespace, *parents(namespace)]]
    return [(name, entries) for name, entries in found if entries]


def set_plugin_defaults(store: KeyValues, namespace: str, entries: list[dict[str, Any]]) -> None:
    """Replace the plugin defaults of `namespace` (already validated: `flow.namespace_defaults`)."""
    if not namespace or is_reserved(namespace):
        raise ValueError(f"namespace {namespace!r} is reserved or empty: it cannot have plugin defaults")
    settings = {**_settings(store, namespace), "pluginDefaults": entries}
    if not entries:
        del settings["pluginDefaults"]
    store.kv_set(CONFIG_NAMESPACE, namespace, settings)


@dataclass(frozen=True)
class NamespaceGuard:
    """What one flow's namespace may reach; `store` holds the allow-lists."""

    store: KeyValues
    namespace: str

    def check(self, target: str, access: Access, what: str) -> str:
        """`target` when the flow may use it for `access`, else NamespaceAccessDenied naming both."""
        if is_reserved(target):
            raise NamespaceAccessDenied(f"{what}: namespace '{target}' is reserved; flows cannot reach it")
        if target == self.namespace:
            return target
        if access == "read" and target in parents(self.namespace):
            return target
        allowed = allowed_namespaces(self.store, target)
        if self.namespace in allowed or ANY_NAMESPACE in allowed:
            return target
        raise NamespaceAccessDenied(
            f"{what}: flows of namespace '{self.namespace}' may not {access} namespace '{target}' "
            f"(it does not allow them: `strato namespaces allow {target} {self.namespace}`)"
        )
