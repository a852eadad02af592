"""Script tasks run real processes (the warm template, shells, pip): the task-library fixtures, on the
local platform."""

from tests.unit.tasks.conftest import no_secrets_file, platform, run_flow  # noqa: F401
