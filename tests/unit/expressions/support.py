"""Test doubles for the expressions tests: a lazy context mapping and fake runtime services."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class LazyMapping(Mapping[str, Any]):
    """A mapping that records which keys were loaded, like the runner's lazy `outputs`."""

    def __init__(self, data: dict[str, Any]):
        self._data = data
        self.loaded: list[str] = []

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        self.loaded.append(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class FakeRuntime:
    """`RuntimeFunctions` backed by dictionaries."""

    def __init__(self) -> None:
        self.secrets = {"GITHUB_TOKEN": "ghp_123"}
        self.store: dict[tuple[str | None, str], Any] = {(None, "color"): "blue", ("team.a", "size"): 3}
        self.files = {"kestra:///ns/flow/file.txt": "file content"}
        self.errors = [{"taskId": "extract", "message": "connection refused"}]

    def secret(self, name: str) -> str:
        return self.secrets[name]

    def kv(self, key: str, namespace: str | None) -> Any:
        return self.store.get((namespace, key))

    def read(self, uri: str) -> str:
        return self.files[uri]

    def error_logs(self) -> list[dict[str, Any]]:
        return self.errors
