"""`strato run` measures a definition as the deployer sends it (`compiler.as_sent`, the ARNs of
`compiler.EXAMPLE_STACK` in place of its placeholders): a flow that runs locally deploys."""

from __future__ import annotations

import pytest

from stratoflow.cloud.deploy.limits import DeployNames, measure
from stratoflow.compiler import EXAMPLE_STACK, MAX_DEFINITION_BYTES, compile_flow, definition_text
from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from tests.unit.cloud.test_limits import wide_parallel


def test_a_definition_under_the_limit_only_with_its_placeholders_is_refused_as_validate_refuses_it(
    platform: LocalPlatform,
) -> None:
    # Given a Parallel of 1,850 one-task branches: under 1 MB with its placeholders, over it as sent
    source = wide_parallel(1850)
    assert (
        len(definition_text(compile_flow(load_flow(source, "wide.yaml")).definition)) < MAX_DEFINITION_BYTES
    )

    # When the local platform deploys it (what `strato run` does first)
    with pytest.raises(FlowValidationError) as refused:
        platform.deploy_source(source, "wide.yaml")

    # Then it is refused with the located problems the deployer and `strato validate` give, and
    # nothing is recorded
    expected = measure(load_flow(source, "wide.yaml"), DeployNames.example(), "wide.yaml").problems
    assert expected and refused.value.diagnostics == expected
    assert platform.store.get_flow("tests.limits", "wide") is None


def test_the_local_measure_uses_the_names_strato_validate_measures_with() -> None:
    assert DeployNames.example().stack() == EXAMPLE_STACK
