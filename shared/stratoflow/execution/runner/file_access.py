"""Which storage files a task run may read: the namespace rule (`stratoflow.namespaces`) applied to the
namespace a file's key belongs to, plus the files of its own execution family.

Keys have two shapes (see `store.namespace_files` and `TaskRunContext.put_file`):
`namespaces/<namespace>/files/<path>` and `<namespace>/<flow id>/executions/<execution id>/...`. A file
of the execution itself, of its parent or of one of its subflows is readable whatever its namespace:
a parent reads the files its subflow returned, as in Kestra.
"""

from __future__ import annotations

from stratoflow.domain import Execution
from stratoflow.namespaces import NamespaceAccessDenied, NamespaceGuard
from stratoflow.store import rules
from stratoflow.store.base import ExecutionStore
from stratoflow.store.namespace_files import PREFIX


def file_namespace(key: str) -> tuple[str, str | None]:
    """(namespace, execution id or None) of a storage key; NamespaceAccessDenied for another shape."""
    parts = key.split("/")
    if len(parts) >= 4 and parts[0] == PREFIX and parts[2] == "files":
        return parts[1], None
    if len(parts) >= 5 and parts[2] == "executions":
        return parts[0], parts[3]
    raise NamespaceAccessDenied(f"file {rules.URI_SCHEME}{key}: not a namespace file nor an execution's file")


def _related(store: ExecutionStore, execution: Execution, other_id: str) -> bool:
    if other_id in (execution.id, execution.parent_execution_id):
        return True
    other = store.get_execution(other_id)
    return other is not None and other.parent_execution_id == execution.id


def check_file_access(guard: NamespaceGuard, store: ExecutionStore, execution: Execution, uri: str) -> None:
    """NamespaceAccessDenied unless the task run of `execution` may read `uri`."""
    try:
        key = rules.key_of(uri)
    except ValueError as error:
        raise NamespaceAccessDenied(str(error)) from None
    namespace, execution_id = file_namespace(key)
    if execution_id is not None and _related(store, execution, execution_id):
        return
    guard.check(namespace, "read", f"file {uri}")
