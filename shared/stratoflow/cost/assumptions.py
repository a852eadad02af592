"""What the estimate cannot read from a definition: loop sizes, durations, item sizes. Always printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumptions:
    items: int = 10
    """Items of every ForEach (its values are only known at run time)."""
    loop_iterations: int = 1
    """Rounds of every WaitFor loop."""
    failed_attempts: int = 0
    """Failed attempts before success, per task with a retry policy (capped by its maxAttempts)."""
    runner_duration_ms: float = 100.0
    """Billed duration of one task-runner invocation."""
    runner_memory_mb: int = 1024
    container_duration_s: float = 600.0
    """Run time of a container-run task (`taskRunner: aws.runner.Fargate`), start-up included."""
    platform_invocations: int = 3
    """Other Lambda invocations per execution: admission, and execution-status events (RUNNING, end)."""
    platform_duration_ms: float = 100.0
    platform_memory_mb: int = 512
    logs_per_task: int = 0
    """Log lines of a task run for task types other than Log/Echo (those log one line per message)."""
    task_run_item_kb: float = 0.6
    """A task-run item in DynamoDB (measured: ~480 bytes of JSON plus keys)."""
    execution_item_kb: float = 1.0
    log_item_kb: float = 0.3
    dynamic_wait_s: float = 1.0
    """A Wait whose seconds come from the state (a WaitFor's interval)."""
    express_memory_mb: int = 64
    """Express bills memory in 64 MB steps; Stratoflow's state payloads are a few hundred bytes."""
    free_tier: bool = False

    def describe(self) -> list[str]:
        """The assumptions, in words, as the CLI prints them."""
        return [
            f"ForEach items per loop: {self.items} (--items)",
            f"WaitFor rounds per loop: {self.loop_iterations}",
            f"failed attempts before success, per task with a retry policy: {self.failed_attempts}",
            f"task-runner Lambda: {self.runner_memory_mb} MB arm64, {self.runner_duration_ms:g} ms per invocation",
            f"container-run tasks (Fargate arm64): {self.container_duration_s:g} s each, the vCPU and "
            "memory they ask for (Fargate bills a minute at least)",
            f"other Lambda invocations per execution (admission, status events): {self.platform_invocations} "
            f"x {self.platform_memory_mb} MB x {self.platform_duration_ms:g} ms",
            f"DynamoDB items: task run {self.task_run_item_kb:g} KB, execution {self.execution_item_kb:g} KB, "
            f"log line {self.log_item_kb:g} KB; strongly consistent reads; GSIs project keys, flowId, state",
            f"log lines per task run (other than Log/Echo): {self.logs_per_task}",
            f"dynamic Wait (WaitFor interval): {self.dynamic_wait_s:g} s",
            f"Express: {self.express_memory_mb} MB billed memory, duration rounded up to 100 ms",
            "free tiers: " + ("subtracted (whole account)" if self.free_tier else "ignored (--free-tier)"),
            "nothing fails or is skipped; an If/Switch takes its most expensive branch",
            "not counted: CloudWatch Logs, X-Ray traces, S3 (large outputs), data transfer, Lambda INIT",
        ]
