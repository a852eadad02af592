"""Lowering of ForEachItem: a file's lines in batches, each batch a child execution of a distributed
Map that starts the subflow.

<id>                runner "start": the file cut into `[number, text]` JSON lines in storage
<id>.choice         skip (runIf, a finished run)
<id>.batches        Map (DISTRIBUTED): ItemReader (JSONL) -> ItemBatcher (`batchSize` lines per child)
                    -> ToleratedFailurePercentage 100 unless `transmitFailed` -> ResultWriter
  <id>.batch          runner "batch": the batch file written, the subflow's execution admitted
  <id>.batch.choice   skip: a restarted parent's batch that succeeded before
  <id>.batch.execution  states:startExecution(.sync:2) of the subflow
<id>.end / <id>.fail runner "end": executions counted by state, outputs merged, sub-task runs recorded

The parent's payload carries the Map's reference to the lines, never the lines; its history has the
Map Run's few events whatever the number of batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratoflow.compiler.asl import (
    DATA_BUCKET,
    DISCARD,
    READ_OBJECT,
    WRITE_OBJECTS,
    ChoiceState,
    MapState,
    PassState,
)
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.frame import SKIP_RULE_VARIABLE, Flowable
from stratoflow.compiler.timeouts import race
from stratoflow.compiler.waits import child_execution
from stratoflow.storage_layout import map_results_prefix

if TYPE_CHECKING:
    # Types only: importing the task families would build their models at every compile.
    from stratoflow.tasks.native import ForEachItem

BATCH = "$.BatchInput"


def lower_for_each_item(builder: Builder, task: ForEachItem, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    processor, entry = _batch_processor(builder, task)
    name = builder.names.claim(f"{task.id}.batches")
    builder.add(
        name,
        MapState(
            item_reader={
                "Resource": READ_OBJECT,
                "ReaderConfig": {"InputType": "JSONL"},
                "Parameters": {"Bucket.$": "$.eval.result.items.bucket", "Key.$": "$.eval.result.items.key"},
            },
            item_batcher={
                "MaxItemsPerBatchPath": "$.eval.result.batchSize",
                "BatchInput": {
                    "execution.$": "$.execution",
                    "scope.$": scope.scope_path,
                    "batchSize.$": "$.eval.result.batchSize",
                    "stored.$": "$.eval.result.stored",
                },
            },
            item_processor={
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                **processor.definition(entry),
            },
            # Kestra's transmitFailed: false lets every batch fail without failing the task.
            tolerated_failure_percentage=None if task.wait and task.transmit_failed else 100,
            # Each child ends with its execution's name only; written to storage, never gathered.
            result_writer={
                "Resource": WRITE_OBJECTS,
                "Parameters": {"Bucket": DATA_BUCKET, "Prefix": map_results_prefix(builder.namespace)},
            },
            result_path=DISCARD,
            catch=frame.catchers(),
            next=frame.end,
        ),
    )
    frame.emit_end()
    rules = [{"Variable": "$.eval.result.batches", "NumericGreaterThan": 0, "Next": race(frame, name)}]
    return frame.emit_start(frame.end, choices=rules)


def _batch_processor(builder: Builder, task: ForEachItem) -> tuple[Builder, str]:
    """One batch's child execution: its file and admission, then the subflow's start."""
    processor = builder.branch()
    call = builder.names.claim(f"{task.id}.batch")
    choice = builder.names.claim(f"{task.id}.batch.choice")
    skipped = builder.names.claim(f"{task.id}.batch.skipped")
    execution = builder.names.claim(f"{task.id}.batch.execution")
    processor.runner_call(
        call,
        "batch",
        task.id,
        Scope(scope_path=f"{BATCH}.scope"),
        choice,
        extra={
            "execution.$": f"{BATCH}.execution",
            "items.$": "$.Items",
            "batchSize.$": f"{BATCH}.batchSize",
            "stored.$": f"{BATCH}.stored",
        },
        result_path="$.eval",
        select_result=True,
        comment="ForEachItem: the batch file, and its execution admitted",
    )
    processor.add(
        choice,
        ChoiceState(
            choices=[{"Variable": SKIP_RULE_VARIABLE, "BooleanEquals": True, "Next": skipped}],
            default=execution,
        ),
    )
    processor.add(skipped, PassState(output_path="$.eval.result.skip", end=True))
    processor.add(execution, child_execution(task, None, None, timed=False, output_path="$.eval.result.name"))
    return processor, call
