"""The flow-model fixtures of the unit layer (the expressions stand-in, contexts), for flow tests that
need a socket."""

from tests.unit.flow.conftest import fake_expressions, make_ctx, real_expressions  # noqa: F401 (fixtures)
