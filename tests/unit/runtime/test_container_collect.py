"""The runner's side of a container-run script: the job `prepare` writes, and what `collect` reads
back (the container's answer, or why there is none), on the local blob store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratoflow.execution.runner.container import ContainerHandover, JobHandedOver, clean, container_answer
from stratoflow.runner_call import CaughtError
from stratoflow.sandbox_call import INLINE_FILE_BYTES, HandedFile, SandboxReply, ScriptAnswer, ScriptJob
from stratoflow.store.local import LocalBlobStore
from stratoflow.store.rules import URI_SCHEME
from stratoflow.tasks.errors import TaskFailed, TaskTimeout

FOLDER = "team.a/etl/executions/e1/e1-crunch/sandbox/1"


def _job(*files: HandedFile) -> ScriptJob:
    return ScriptJob(
        folders=["/tmp/x"], cwd="/tmp/x/work", argv=["true"], env={}, files=list(files), whole_line_limit=1
    )


def _handed_over(blobs: LocalBlobStore, job: ScriptJob) -> str:
    with pytest.raises(JobHandedOver) as handed:
        ContainerHandover(blobs, FOLDER).run(job)
    return handed.value.key


def test_prepare_writes_the_job_with_large_files_beside_it(tmp_path: Path) -> None:
    # Given a job with a small and a large file
    blobs = LocalBlobStore(tmp_path)
    big = b"x" * (INLINE_FILE_BYTES + 1)
    job = _job(HandedFile.inline("/tmp/x/a", b"small"), HandedFile.inline("/tmp/x/b", big))

    # When the runner hands it over
    key = _handed_over(blobs, job)

    # Then the job is in the attempt's folder, the large file beside it by key, the small one inline
    assert key == f"{FOLDER}/job.json"
    stored = ScriptJob.model_validate_json(blobs.get(URI_SCHEME + key))
    assert stored.files[0].data is not None
    assert stored.files[1].data is None and stored.files[1].key == f"{FOLDER}/in/1"
    assert blobs.get(URI_SCHEME + f"{FOLDER}/in/1") == big


def test_collect_reads_the_answer_and_the_files_it_names_under_out(tmp_path: Path) -> None:
    # Given a handed-over job, and the container's reply naming a large file it wrote under out/
    blobs = LocalBlobStore(tmp_path)
    _handed_over(blobs, _job())
    blobs.put(f"{FOLDER}/out/files/7-big.csv", b"a,b\n")
    answer = ScriptAnswer(
        exit_code=0, files=[HandedFile(path="big.csv", size=4, key=f"{FOLDER}/out/files/7-big.csv")]
    )
    blobs.put(f"{FOLDER}/out/reply.json", SandboxReply(answer=answer).model_dump_json().encode())

    # When collect reads them, then cleans the folder
    job, taken = container_answer(blobs, FOLDER, None)
    clean(blobs, FOLDER)

    # Then the file is inline, and nothing of the attempt is left in storage
    assert job.argv == ["true"] and taken.exit_code == 0
    assert taken.files[0].content() == b"a,b\n"
    assert blobs.list_keys(FOLDER) == []


def test_a_reply_naming_an_object_outside_its_out_folder_is_refused(tmp_path: Path) -> None:
    # Given a reply that names another task run's object
    blobs = LocalBlobStore(tmp_path)
    _handed_over(blobs, _job())
    blobs.put("team.a/etl/executions/e2/e2-secret/outputs.json", b"{}")
    stolen = HandedFile(path="x", size=2, key="team.a/etl/executions/e2/e2-secret/outputs.json")
    blobs.put(
        f"{FOLDER}/out/reply.json",
        SandboxReply(answer=ScriptAnswer(exit_code=0, files=[stolen])).model_dump_json().encode(),
    )

    # When collect reads it
    # Then it fails the attempt, naming the object
    with pytest.raises(TaskFailed, match="outside the task run's own folder"):
        container_answer(blobs, FOLDER, None)


def test_a_container_that_died_without_answering_fails_the_attempt_with_ecss_reason(tmp_path: Path) -> None:
    # Given a handed-over job and no reply: the container exited 137 (out of memory)
    blobs = LocalBlobStore(tmp_path)
    _handed_over(blobs, _job())
    task = {
        "LastStatus": "STOPPED",
        "StopCode": "EssentialContainerExited",
        "StoppedReason": "Essential container in task exited",
        "Containers": [{"Name": "sandbox", "ExitCode": 137, "Reason": "OutOfMemoryError: Container killed"}],
    }
    error = CaughtError(Error="States.TaskFailed", Cause=json.dumps(task))

    # When collect is called with the `.sync` state's error
    with pytest.raises(TaskFailed) as failed:
        container_answer(blobs, FOLDER, error)

    # Then the attempt fails, saying the container stopped without an answer, and why
    assert str(failed.value) == (
        "the container stopped without an answer (States.TaskFailed: ECS task STOPPED (EssentialContainerExited): "
        "Essential container in task exited; container sandbox exit code 137 (OutOfMemoryError: Container killed))"
    )


def test_a_container_stopped_at_the_states_timeout_is_a_task_timeout(tmp_path: Path) -> None:
    # Given a handed-over job whose container outlived its state's TimeoutSeconds
    blobs = LocalBlobStore(tmp_path)
    _handed_over(blobs, _job())

    # When collect is called with States.Timeout
    # Then the attempt times out (the task's retry policy sees TaskTimeout)
    with pytest.raises(TaskTimeout, match="outlived the task's timeout"):
        container_answer(blobs, FOLDER, CaughtError(Error="States.Timeout", Cause=None))
