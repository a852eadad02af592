"""Key-value store tasks (per namespace; the flow's namespace by default)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from stratoflow.flow.fields import Duration
from stratoflow.flow.inputs import input_types
from stratoflow.flow.registry import kestra_aliases, register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed


class _KeyTask(RunnableTask):
    key: str
    namespace: str | None = None

    def target(self, ctx: RunContext) -> tuple[str, str | None]:
        """The rendered key and namespace (None: the flow's own namespace)."""
        key = as_text(ctx.render(self.key))
        if not key:
            raise TaskFailed("the key rendered to an empty string")
        namespace = as_text(ctx.render(self.namespace)) if self.namespace is not None else None
        return key, namespace or None


KvType = Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"]
# Each kvType converts like the input type of the same meaning.
_INPUT_TYPE = {
    "STRING": "STRING",
    "NUMBER": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "DATETIME": "DATETIME",
    "DATE": "DATE",
    "DURATION": "DURATION",
    "JSON": "JSON",
}


@register
class Set(_KeyTask):
    """Store `value` under `key`, optionally for `ttl` only."""

    type_name: ClassVar[str] = "kv.Set"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("kv", "Set")

    value: Any
    overwrite: bool = True
    ttl: Duration | None = None
    # Kestra's type of the stored value: the rendered value is converted to it (as an input of that
    # type would be), so `kv('key')` gives a number, a boolean, a JSON value...
    kv_type: KvType | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        key, namespace = self.target(ctx)
        if not self.overwrite and ctx.kv_get(key, namespace) is not None:
            raise TaskFailed(f"key '{key}' already exists and 'overwrite' is false")
        ttl_seconds = max(1, int(self.ttl.total_seconds())) if self.ttl is not None else None
        value = ctx.render(self.value)
        if self.kv_type is not None:
            value = typed_value(self.kv_type, value)
        ctx.kv_set(key, value, namespace, ttl_seconds)
        return {}


def typed_value(kv_type: str, value: Any) -> Any:
    """`value` converted to `kv_type`; a NUMBER without a fraction stays an integer."""
    if kv_type == "NUMBER" and not isinstance(value, bool):
        try:
            number = float(value) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise TaskFailed(f"kvType NUMBER: {value!r} is not a number") from None
        return int(number) if isinstance(number, float) and number.is_integer() else number
    spec = input_types()[_INPUT_TYPE[kv_type]].model_validate({"id": "value", "type": _INPUT_TYPE[kv_type]})
    try:
        return spec.convert(value)
    except ValueError as error:
        raise TaskFailed(f"kvType {kv_type}: {error}") from None


@register
class Get(_KeyTask):
    """Output `value`: the value stored under `key` (null when missing, unless `errorOnMissing`)."""

    type_name: ClassVar[str] = "kv.Get"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("kv", "Get")

    error_on_missing: bool = False

    def run(self, ctx: RunContext) -> dict[str, Any]:
        key, namespace = self.target(ctx)
        value = ctx.kv_get(key, namespace)
        if value is None and self.error_on_missing:
            raise TaskFailed(f"no value for key '{key}'")
        return {"value": value}


@register
class Delete(_KeyTask):
    """Delete `key`; output `deleted` tells whether it existed."""

    type_name: ClassVar[str] = "kv.Delete"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("kv", "Delete")

    error_on_missing: bool = False

    def run(self, ctx: RunContext) -> dict[str, Any]:
        key, namespace = self.target(ctx)
        deleted = ctx.kv_delete(key, namespace)
        if not deleted and self.error_on_missing:
            raise TaskFailed(f"no value for key '{key}'")
        return {"deleted": deleted}
