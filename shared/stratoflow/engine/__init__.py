"""The local ASL engine: runs a compiled Step Functions definition in-process, as Step Functions would.

Supported (JSONPath only; no JSONata, no `Assign`, inline Map only):

- States: Task, Pass (Result, Parameters), Choice (every comparison and its `Path` variant,
  And/Or/Not, Is* tests, StringMatches, Default, States.NoChoiceMatched), Wait (Seconds,
  SecondsPath, Timestamp, TimestampPath), Succeed, Fail (Error/Cause and ErrorPath/CausePath),
  Parallel, Map (ItemsPath, ItemSelector or legacy Parameters, ItemProcessor or legacy Iterator,
  MaxConcurrency/MaxConcurrencyPath, `$$.Map.Item.Value`/`Index`).
- Input and output processing in AWS order (InputPath, Parameters, ResultSelector, ResultPath,
  OutputPath), the context object (`$$.Execution.*`, `$$.State.*`, `$$.StateMachine.*`,
  `$$.Task.Token`, `$$.Map.Item.*`), the intrinsic functions, and the 256 KiB payload limit
  (States.DataLimitExceeded).
- Retry and Catch with AWS's error matching (see `stratoflow.engine.errors`); TimeoutSeconds of
  the state machine and of Task states (and their Path variants), HeartbeatSeconds,
  `.waitForTaskToken` with send_task_success/failure/heartbeat.
- A path that does not resolve, a bad intrinsic argument and the like fail the execution with
  States.Runtime, which Retry and Catch never see - as on AWS.

Time comes from a `Clock`: `RealClock`, or `VirtualClock` to skip waits. Task states are answered by
a `ResourceHandler`: `LambdaIntegration` for Lambda, `Resources` to route by ARN prefix.
"""

from stratoflow.engine.clock import Clock, RealClock, VirtualClock
from stratoflow.engine.engine import ExecutionResult, LocalEngine, LocalExecution
from stratoflow.engine.errors import InvalidDefinition, InvalidTaskToken, TaskError, UnknownResource
from stratoflow.engine.events import EngineEvent
from stratoflow.engine.lambdas import LambdaContext, LambdaIntegration
from stratoflow.engine.resources import ResourceHandler, Resources, TaskCall
from stratoflow.engine.runtime import PAYLOAD_LIMIT
from stratoflow.engine.validate import validate_definition

__all__ = [
    "PAYLOAD_LIMIT",
    "Clock",
    "EngineEvent",
    "ExecutionResult",
    "InvalidDefinition",
    "InvalidTaskToken",
    "LambdaContext",
    "LambdaIntegration",
    "LocalEngine",
    "LocalExecution",
    "RealClock",
    "ResourceHandler",
    "Resources",
    "TaskCall",
    "TaskError",
    "UnknownResource",
    "VirtualClock",
    "validate_definition",
]
