from typing import Any

import pytest

from stratoflow.engine import validate_definition


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def test_a_valid_definition_has_no_problems() -> None:
    definition = {
        "Comment": "all the state types",
        "TimeoutSeconds": 60,
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"x.$": "$.x"}, "Next": "Route"},
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Work"}],
                "Default": "Stop",
            },
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${Fn}", "Payload.$": "$"},
                "TimeoutSeconds": 30,
                "HeartbeatSeconds": 10,
                "Retry": [
                    {"ErrorEquals": ["Custom"], "MaxAttempts": 0},
                    {"ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL"},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Stop"}],
                "Next": "Fan",
            },
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 1, "End": True}}}
                ],
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Done",
                    "States": {"Done": {"Type": "Succeed"}},
                },
                "Next": "Stop",
            },
            "Stop": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "States.Format('{}', $.x)"},
        },
    }
    assert validate_definition(definition) == []


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        ([], "definition: must be a JSON object"),
        ({"States": {"A": {"Type": "Succeed"}}}, "StartAt: missing"),
        ({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}, "StartAt: no state named 'B'"),
        ({"StartAt": "A", "States": {}}, "States: must be a non-empty object"),
        (machine(A={"Type": "Pass", "Next": "Nope"}), "States.A.Next: no state named 'Nope' here"),
        (machine(A={"Type": "Pass"}), "States.A: needs exactly one of Next or End: true"),
        (
            machine(A={"Type": "Pass", "End": True, "Next": "A"}),
            "States.A: needs exactly one of Next or End: true",
        ),
        (machine(A={"Type": "Succeed", "End": True}), "States.A: a Succeed state cannot have Next or End"),
        (
            machine(A={"Type": "Pass", "End": True}, B={"Type": "Succeed"}),
            "States.B: unreachable from StartAt 'A'",
        ),
        (machine(**{"N" * 81: {"Type": "Succeed"}}), "state names are at most 80 characters"),
        (machine(A={"Type": "Sleep"}), "States.A.Type: 'Sleep' is not a state type"),
        (
            machine(A={"Type": "Pass", "End": True, "Reslt": 1}),
            "States.A.Reslt: unknown field for a Pass state",
        ),
        (machine(A={"Type": "Pass", "End": True, "Assign": {}}), "JSONata and variables are not supported"),
        (machine(A={"Type": "Pass", "End": True, "QueryLanguage": "JSONata"}), "only JSONPath is supported"),
        ({**machine(A={"Type": "Succeed"}), "QueryLanguage": "JSONata"}, "QueryLanguage: only JSONPath"),
        ({**machine(A={"Type": "Succeed"}), "TimeoutSeconds": 0}, "TimeoutSeconds: must be an integer >= 1"),
        ({**machine(A={"Type": "Succeed"}), "Extra": 1}, "Extra: unknown top-level field"),
        (
            machine(A={"Type": "Pass", "End": True, "InputPath": "a.b"}),
            "States.A.InputPath: 'a.b' is not a path",
        ),
        (machine(A={"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}), "is not a reference path"),
        (machine(A={"Type": "Pass", "End": True, "Parameters": {"a.$": 1}}), "States.A.Parameters: a.$"),
        (machine(A={"Type": "Task", "End": True}), "States.A.Resource: missing"),
        (
            machine(
                A={"Type": "Task", "Resource": "r", "End": True, "TimeoutSeconds": 5, "HeartbeatSeconds": 5}
            ),
            "must be smaller than TimeoutSeconds",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "TimeoutSeconds": 5,
                    "TimeoutSecondsPath": "$.t",
                }
            ),
            "use TimeoutSeconds or TimeoutSecondsPath",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
                }
            ),
            "States.ALL must appear alone, in the last retrier",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Retry": [{"ErrorEquals": ["States.ALL", "X"]}],
                }
            ),
            "States.ALL must appear alone",
        ),
        (
            machine(A={"Type": "Task", "Resource": "r", "End": True, "Retry": [{"ErrorEquals": []}]}),
            "ErrorEquals: must be a non-empty array",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}],
                }
            ),
            "BackoffRate: must be a number >= 1.0",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}],
                }
            ),
            "MaxAttempts: must be an integer >= 0",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}],
                }
            ),
            "IntervalSeconds: must be an integer >= 1",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}],
                }
            ),
            "JitterStrategy: must be FULL or NONE",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Retry": [{"ErrorEquals": ["X"], "Delay": 1}],
                }
            ),
            "Retry[0].Delay: unknown field",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Catch": [{"ErrorEquals": ["X"], "Next": "Gone"}],
                }
            ),
            "Catch[0].Next: no state named 'Gone'",
        ),
        (
            machine(
                A={
                    "Type": "Task",
                    "Resource": "r",
                    "End": True,
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "Next": "A"},
                        {"ErrorEquals": ["X"], "Next": "A"},
                    ],
                }
            ),
            "States.ALL must appear alone, in the last catcher",
        ),
        (machine(A={"Type": "Choice", "Choices": []}), "Choices: must be a non-empty array"),
        (
            machine(A={"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True}]}),
            "Choices[0].Next: must be a state name",
        ),
        (
            machine(A={"Type": "Choice", "Choices": [{"Variable": "$.x", "Next": "A"}]}),
            "needs exactly one comparison operator",
        ),
        (
            machine(
                A={
                    "Type": "Choice",
                    "Choices": [{"Not": {"Variable": "$.x", "IsNull": True, "Next": "A"}, "Next": "A"}],
                }
            ),
            "only top-level rules may have Next",
        ),
        (
            machine(
                A={
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "A"}],
                    "Default": "B",
                }
            ),
            "States.A.Default: no state named 'B'",
        ),
        (
            machine(A={"Type": "Wait", "End": True}),
            "needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
        ),
        (
            machine(A={"Type": "Wait", "Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z", "End": True}),
            "needs exactly one of Seconds",
        ),
        (machine(A={"Type": "Wait", "Timestamp": "tomorrow", "End": True}), "not an RFC 3339 timestamp"),
        (machine(A={"Type": "Wait", "Seconds": -1, "End": True}), "Seconds: must be an integer >= 0"),
        (machine(A={"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}), "use Error or ErrorPath, not both"),
        (machine(A={"Type": "Fail", "CausePath": "States.Nope()"}), "unknown intrinsic function"),
        (machine(A={"Type": "Parallel", "Branches": [], "End": True}), "Branches: must be a non-empty array"),
        (
            machine(
                A={
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass"}}}],
                    "End": True,
                }
            ),
            "States.A.Branches[0].States.B: needs exactly one of Next or End",
        ),
        (machine(A={"Type": "Map", "End": True}), "needs exactly one of ItemProcessor or Iterator"),
        (
            machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemSelector": {},
                    "Parameters": {},
                    "Iterator": {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}},
                }
            ),
            "use ItemSelector or Parameters",
        ),
        (
            machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "REMOTE"},
                        "StartAt": "B",
                        "States": {"B": {"Type": "Succeed"}},
                    },
                }
            ),
            "ProcessorConfig.Mode: INLINE or DISTRIBUTED",
        ),
        (
            machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemReader": {
                        "Resource": "arn:aws:states:::s3:getObject",
                        "ReaderConfig": {"InputType": "CSV"},
                    },
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                        "StartAt": "B",
                        "States": {"B": {"Type": "Succeed"}},
                    },
                }
            ),
            "ItemReader.ReaderConfig.InputType: only JSON and JSONL are supported",
        ),
        (
            machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemBatcher": {"BatchInput": {"a": 1}},
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                        "StartAt": "B",
                        "States": {"B": {"Type": "Succeed"}},
                    },
                }
            ),
            "ItemBatcher: needs MaxItemsPerBatch or MaxInputBytesPerBatch",
        ),
        (
            machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemReader": {},
                    "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}},
                }
            ),
            "only a distributed Map (ProcessorConfig.Mode DISTRIBUTED) has it",
        ),
        (
            machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "MaxConcurrency": -1,
                    "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}},
                }
            ),
            "MaxConcurrency: must be an integer >= 0",
        ),
        (
            machine(
                A={
                    "Type": "Map",
                    "End": True,
                    "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "A"}}},
                }
            ),
            "ItemProcessor.States.B.Next: no state named 'A' here",
        ),
    ],
)
def test_structural_problems(definition: Any, problem: str) -> None:
    problems = validate_definition(definition)
    assert any(problem in found for found in problems), problems


def test_names_must_be_unique_across_the_whole_machine() -> None:
    # Given the name "Inner" used at the top level and inside a Map
    definition = machine(
        Inner={"Type": "Pass", "Next": "Loop"},
        Loop={
            "Type": "Map",
            "End": True,
            "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Succeed"}}},
        },
    )
    # When / Then
    assert validate_definition(definition) == [
        "States.Inner: the name 'Inner' is used by 2 states; names must be unique in the whole machine"
    ]


def test_every_problem_is_reported_not_only_the_first() -> None:
    definition = machine(A={"Type": "Pass", "Next": "X"}, B={"Type": "Wait", "End": True})
    assert len(validate_definition(definition)) == 3
