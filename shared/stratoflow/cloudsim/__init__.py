"""moto helpers: run state machines on moto's Step Functions interpreter with in-process Lambda handlers.

`in_process_lambdas(functions)` answers Lambda Invoke under moto with Python handlers;
`moto_stepfunctions()` opens a mock that executes state machines; `run_on_moto(...)` and
`moto_history(...)` run one definition to its end. The parity tests run the same definitions here
and on the local engine (`stratoflow.engine`).

Where moto 5.2.5 differs from AWS Step Functions (found by experiment; the compiler avoids these
constructs, and the local engine does what AWS does):

- Choice: a `Variable` that does not resolve makes the comparison false on moto; AWS fails the
  execution with States.Runtime. Guard optional fields with `IsPresent`.
- Choice without a match and without `Default`: moto fails with States.Runtime; AWS with
  States.NoChoiceMatched. Always emit a Default.
- States.Runtime (a `.$` path that does not resolve, ...) inside a Task is caught by a
  `States.ALL` Catch on moto; on AWS it is never caught and fails the execution.
- States.TaskFailed in ErrorEquals matches only custom (non-`States.`) error names on moto; on AWS
  it matches every error except States.Timeout (and the terminal Runtime/DataLimitExceeded).
- `lambda:invoke` result: moto returns only StatusCode, ExecutedVersion and Payload; AWS adds
  SdkHttpMetadata and SdkResponseMetadata. Read `$.Payload` (ResultSelector) or drop the result.
- A Lambda error's Cause is re-serialized compactly by moto (AWS passes the runtime's document
  as is): compare error names, not cause text.
- An execution whose output is a JSON string: moto returns it without quotes (`parse_output`
  accepts both).
- Map whose ItemsPath is not an array: moto fails with States.QueryEvaluationError; AWS with
  States.Runtime.
- Intrinsic functions: moto cannot parse escaped characters in string literals (`\\'`, `\\{`),
  and its Base64 functions accept ASCII only.
- `$..name` with a single match: moto returns the value; AWS returns a one-item list. And an
  index inside a path (`$[0].name`, `$.a[1].b`) gives a one-item list on moto, the value on AWS:
  index only at the end of a path (`$[0]`).
- Context object: `$$.State.RetryCount` exists on moto only in states with Retry; timestamps
  (`$$.Execution.StartTime`, `$$.State.EnteredTime`) are Python ISO strings with `+00:00`, not
  AWS's `2024-01-31T12:00:00.123Z`.
- `StringMatches` uses fnmatch on moto (`?` and `[...]` are special); on AWS only `*` is.
  `IsTimestamp` on moto accepts only `YYYY-MM-DDTHH:MM:SSZ`.
- A state with `"End": false` next to `Next` is refused by moto's CreateStateMachine.
- `states:startExecution` (any pattern), JSONata and `Assign` do not work. Wait and Retry
  intervals are real seconds; executions run on background threads (poll `describe_execution`).

Beyond Step Functions: moto's EventBridge Pipes stores pipes (create/describe/update/delete/list)
and never runs one; `cloudsim.pipes.QueuePipes` plays an SQS pipe's poll and delivery.
"""

from stratoflow.cloudsim.lambdas import InProcessLambdas, in_process_lambdas
from stratoflow.cloudsim.stepfunctions import (
    MotoResult,
    MotoStepFunctions,
    MotoTimeout,
    moto_environment,
    moto_history,
    moto_stepfunctions,
    parse_output,
    run_on_moto,
)

__all__ = [
    "InProcessLambdas",
    "MotoResult",
    "MotoStepFunctions",
    "MotoTimeout",
    "in_process_lambdas",
    "moto_environment",
    "moto_history",
    "moto_stepfunctions",
    "parse_output",
    "run_on_moto",
]
