"""HTTP tasks against threaded servers on 127.0.0.1 (no network beyond loopback): the
task-library fixtures of the unit layer, here where opening a socket is allowed."""

from tests.unit.tasks.conftest import no_secrets_file, platform, run_flow  # noqa: F401 (fixtures)
