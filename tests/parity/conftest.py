"""Run one definition on the local engine and on moto's Step Functions interpreter, and compare."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from stratoflow.cloudsim import MotoResult, MotoStepFunctions, moto_stepfunctions
from stratoflow.engine import ExecutionResult, LambdaIntegration, LocalEngine, VirtualClock

Functions = Mapping[str, Callable[[Any, Any], Any]]


@dataclass
class Pair:
    engine: ExecutionResult
    moto: MotoResult

    def assert_same(self, compare_cause: bool = False) -> None:
        """Same status, output and error name (and cause, when asked) on both interpreters."""
        assert self.engine.status == self.moto.status, (self.engine, self.moto)
        assert self.engine.error == self.moto.error, (self.engine, self.moto)
        assert self.engine.output == self.moto.output, (self.engine.output, self.moto.output)
        if compare_cause:
            assert self.engine.cause == self.moto.cause


@pytest.fixture(scope="module")
def moto_sfn() -> Iterator[MotoStepFunctions]:
    with moto_stepfunctions() as sfn:
        yield sfn


RunBoth = Callable[..., Pair]


@pytest.fixture
def run_both(moto_sfn: MotoStepFunctions) -> RunBoth:
    """`run_both(definition, input, functions=lambda: {...})`: fresh functions for each interpreter."""

    def run(definition: dict[str, Any], input: Any, functions: Callable[[], Functions] | None = None) -> Pair:
        name = f"parity-{uuid.uuid4().hex[:12]}"
        machine = f"sm-{uuid.uuid4().hex[:12]}"
        engine_functions = functions() if functions else {}
        engine = LocalEngine(
            definition, LambdaIntegration(engine_functions), VirtualClock(), state_machine_name=machine
        )
        local = engine.run(input, name=name)
        assert moto_sfn.lambdas is not None
        moto_sfn.lambdas.functions = dict(functions() if functions else {})
        remote = moto_sfn.wait(moto_sfn.start(moto_sfn.create(definition, machine), input, name))
        return Pair(local, remote)

    return run
