"""The local-platform fixtures of the unit layer's runtime tests, for those that need a process or a socket."""

from tests.unit.runtime.conftest import platform, run_flow  # noqa: F401 (fixtures)
