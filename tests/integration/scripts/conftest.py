"""Script tasks run real processes (the warm template, shells, pip): the task-library fixtures, on the
local platform."""

from tests.unit.tasks.conftest import no_secrets_file, platform, run_flow  # noqa: F401 (fixtures)
from tests.unit.tasks.test_dependency_cache import ctx, pip_installs, root  # noqa: F401 (fixtures)
from tests.unit.tasks.test_script_dependencies import cache  # noqa: F401 (fixture)
