"""The compiler: flow -> Amazon States Language (JSONPath), checked before it leaves.

Stages, each callable alone: `stratoflow.flow.load_flow` (parse + validate) -> `lower_flow` (ASL via
typed state models) -> `check_definition` (the compiler's own checks) -> `as_sent` (the definition with
one stack's ARNs, measured as the deployer sends it).
"""

from __future__ import annotations

from stratoflow.compiler.asl import AslJson
from stratoflow.compiler.flow import (
    CompiledFlow,
    lower_flow,
    lower_flow_parts,
    permissions_of,
    placeholders_of,
)
from stratoflow.compiler.parts import MAX_DEFINITION_BYTES
from stratoflow.compiler.sent import (
    EXAMPLE_STACK,
    LONGEST_VERSION,
    SentFlow,
    StackNames,
    as_sent,
    definition_text,
    substitute,
)
from stratoflow.compiler.waits import state_machine_placeholder
from stratoflow.errors import CompileError
from stratoflow.flow.model import Flow


def compile_flow(flow: Flow) -> CompiledFlow:
    """Compile a validated flow to its state machine definition."""
    lowered = lower_flow_parts(flow)
    definition, parts, warnings = lowered.definition, lowered.parts, lowered.warnings
    for number, machine in enumerate([definition, *parts]):
        problems = check_definition(machine)
        if problems:
            what = f"part {number} of the state machine" if number else "the compiled state machine"
            raise CompileError(f"flow {flow.namespace}.{flow.id}: {what} is invalid: " + "; ".join(problems))
    placeholders = sorted({name for machine in [definition, *parts] for name in placeholders_of(machine)})
    return CompiledFlow(
        definition=definition,
        placeholders=placeholders,
        warnings=warnings,
        permissions=permissions_of(flow),
        parts=parts,
    )


def check_definition(definition: AslJson) -> list[str]:
    """Structural checks on a definition: targets exist, states reachable, names unique and short, size."""
    # Deferred on purpose: the engine (the local ASL interpreter) is not needed to import the compiler,
    # which the deployer's handler does at cold start.
    from stratoflow.engine import validate_definition

    problems = list(validate_definition(definition))
    size = len(definition_text(definition).encode())  # placeholders: `as_sent` measures with the ARNs
    if size > MAX_DEFINITION_BYTES:
        problems.append(
            f"the definition is {size} bytes, over Step Functions' limit of {MAX_DEFINITION_BYTES}"
        )
    return problems


__all__ = [
    "EXAMPLE_STACK",
    "LONGEST_VERSION",
    "MAX_DEFINITION_BYTES",
    "CompiledFlow",
    "SentFlow",
    "StackNames",
    "as_sent",
    "check_definition",
    "compile_flow",
    "definition_text",
    "lower_flow",
    "lower_flow_parts",
    "state_machine_placeholder",
    "substitute",
]
