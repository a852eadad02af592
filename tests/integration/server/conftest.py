"""`strato server`'s fixtures of the unit layer, for its tests over a real port."""

from tests.unit.triggers.server_helpers import files, messages, server  # noqa: F401 (fixtures)
