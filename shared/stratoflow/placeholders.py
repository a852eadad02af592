"""`${...}` placeholders the compiler leaves in a definition for what only a deployment knows, shared
by the compiler, the deployer and the local engine (kept here: the local engine runs without
importing the compiler)."""

from __future__ import annotations

FLOW_PART = "FlowPart."


def part_placeholder(number: int) -> str:
    """The placeholder standing for part `number`'s state machine (version) ARN (`compiler.parts`)."""
    return "${" + FLOW_PART + str(number) + "}"


def part_number(placeholder: str) -> int | None:
    """The part a placeholder (with or without `${ }`) names, None for another placeholder."""
    name = placeholder.removeprefix("${").removesuffix("}")
    if not name.startswith(FLOW_PART):
        return None
    return int(name.removeprefix(FLOW_PART))
