"""`strato server`'s fixtures (a flows folder, a server on a free port), for its tests in both layers."""

from tests.unit.triggers.server_helpers import files, messages, server  # noqa: F401 (fixtures)
