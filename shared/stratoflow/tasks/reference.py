"""The task reference, generated from the registry: `python -m stratoflow.tasks.reference > docs/tasks.md`.

Each task type gets its description (the class docstring), its Kestra aliases, its own properties
(type and default, read from the model) and its outputs (the class's `output_fields`).
"""

from __future__ import annotations

import json
import re
import types
from datetime import timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from stratoflow.flow import registry
from stratoflow.flow.fields import format_iso_duration
from stratoflow.flow.task import Task

# Outputs of task types whose modules do not declare `output_fields` (control flow, core tasks).
KNOWN_OUTPUTS: dict[str, dict[str, str]] = {
    "Return": {"value": "the rendered `format`"},
    "OutputValues": {"values": "the rendered `values` map"},
    "If": {"evaluationResult": "the condition's truthiness"},
    "Switch": {"value": "the rendered value the cases were compared with"},
    "Subflow": {
        "executionId": "the child execution's id",
        "state": "its final state (with `wait`)",
        "outputs": "its flow outputs (with `wait`)",
    },
    "ForEachItem": {
        "numberOfBatches": "the number of batches (also `<id>_items.numberOfBatches`)",
        "iterations": "the batches' executions counted by state (also `<id>_items.iterations`)",
        "uri": "an Ion file of the batches' flow outputs, one line per batch, with `wait` (also "
        "`<id>_merge.subflowOutputs`)",
    },
    "WaitFor": {"iterationCount": "iterations run"},
    "Pause": {"onResume": "the inputs given when it was resumed"},
    "kv.Get": {"value": "the stored value, or null"},
    "kv.Delete": {"deleted": "true when the key existed"},
}

PREAMBLE = """\
# Task reference

Generated from the task registry by `python -m stratoflow.tasks.reference > docs/tasks.md`; a test
fails when this file is out of date. Every task also has the common properties `id`, `type`,
`description`, `retry`, `timeout` (ISO-8601 duration, per attempt), `disabled`, `allowFailure`,
`runIf` and `logLevel`.

Notes:

- **Files** are storage URIs (`strato:///...`): a task that produces a file outputs its URI; other
  tasks take it as input (`aws.s3.Upload` `from`, scripts' `inputFiles`) or read it with `read()`.
- **Secrets**: `{{ secret('NAME') }}`. Locally the environment variable `SECRET_<NAME>` (plain text;
  `STRATOFLOW_SECRETS_ENCODING=base64` reads Kestra's base64 values) or the same variable in
  `.stratoflow/secrets.env` (`STRATOFLOW_SECRETS_FILE`). In the cloud
  (`STRATOFLOW_SECRETS_BACKEND=aws`): the Secrets Manager secret `stratoflow/<namespace>/<NAME>`, else
  the SSM parameter `/stratoflow/<namespace>/<NAME>`, in the namespace then its parents. Secret values
  are shown as `******` in logs and outputs.
- **Scripts** run each in a process of their own (forked from a warm template interpreter; shell
  commands exec `/bin/sh`; `STRATOFLOW_WARM_SCRIPTS=0` starts a fresh interpreter instead, and
  `STRATOFLOW_WARM_IMPORTS=pandas,requests` has the template import more modules; it learns the
  standard-library modules scripts import), in its own
  process group, in a new scratch directory removed afterwards (in the background: removing folders
  is slow on some disks; never reused); `timeout` kills the whole process tree,
  and so does the end of the task runner (a script never outlives a killed `strato run`).
  Lines `::{"outputs": {...}}::` set the output `vars` (up to 16 MiB per line; a larger one fails the
  task); Python scripts can `from kestra import Kestra` and call `Kestra.outputs({...})`,
  `Kestra.counter`, `Kestra.timer`. Storage URIs in `commands` and `script` are replaced by the path
  of a local copy of the file (`cat {{ outputs.t.uri }}`). `outputFiles` globs match as Kestra's:
  `out/**` is every file under `out`, `*` stays within a folder.
  The script's environment holds only `PATH`, `LANG`/`LC_*`, `TZ`, `TMPDIR`, a `HOME` in its scratch
  directory, in the cloud the credentials of the flow's sandbox role (the command runs in the flow's
  own sandbox function, never in the task runner: README, "What a flow may do in AWS"), and the task's
  `env`: nothing else of the runner's (no `AWS_*` keys, no `SECRET_*`, no settings); give what a
  script needs through `env`.
  `scripts.Python` `dependencies`, and `beforeCommands` lines that are plain `pip install REQS`, are
  installed before the script (`pip install --target`) into a cache reused by later runs with the
  same requirements and Python version (`STRATOFLOW_DEPENDENCY_CACHE`, default
  `~/.cache/stratoflow/python-dependencies`, `/tmp` in Lambda; pip reads the task's `env` and the
  runner's `PIP_*` and proxy variables, e.g. `PIP_INDEX_URL`); a failed install fails the task with
  `DependencyInstallFailed`. Any other `pip install` of a script goes to a folder of its own task
  (`PIP_TARGET`), never into Stratoflow's environment. `namespaceFiles: {enabled: true, include:
  [globs], exclude: [globs]}` copies the files stored for the flow's namespace (`strato files put
  NAMESPACE PATH`) into the working directory, before `inputFiles`.
- **`taskRunner`** on scripts says where they run in the cloud: `{type: Process}` (the default) in the
  task-runner Lambda, at most 15 minutes; `{type: aws.runner.Fargate, cpu: 2, memory: 4096}` in an
  ECS Fargate container of the stack (vCPU 0.25-16, memory in MiB as Fargate allows for that CPU), as
  long as the task's `timeout`, with the flow's sandbox role as its only credentials, recorded exactly
  as a script in the sandbox function (logs, outputs, retries, `errors`). Kestra's `io.kestra.plugin.ee.aws.runner.Batch` runs there too (its
  `resources.request.cpu`/`memory` apply; its queue, bucket and credential properties are refused).
  Kestra's Docker runner is refused by `strato validate` and the deployer (no Docker in the cloud).
  Locally every runner is a process (`strato run` says so). `pluginDefaults` can set it for a flow,
  `strato namespaces defaults` for a namespace.
- **AWS tasks** use the flow's own role on a deployed stack (boto3's default credentials locally),
  or `accessKeyId`/`secretKeyId`/`sessionToken`; `region` and `endpointOverride`. AWS errors fail the
  task with a typed error that `retry` and `errors` can tell apart: `AwsAccessDenied`, `AwsThrottled`,
  `AwsNotFound`, `AwsInvalidRequest`, `AwsConflict`, `AwsUnavailable`, else `AwsError`. Each task
  declares the IAM statements it needs (`CompiledFlow.permissions`), narrowed to the buckets, keys,
  tables, queues, topics and functions the flow names: the deployer gives the flow's role exactly
  those (README, "What a flow may do in AWS").
- **`aws.ecs.RunTask` and `aws.batch.SubmitJob`** compile to Step Functions `.sync` integrations, so
  they can run longer than Lambda's 15 minutes. Their properties must be static (no expressions) and
  they need a deployed stack: the local engine has no ECS or Batch, and fails such a flow with
  States.Runtime. Their outputs summarize the ended task or job; a failed one fails with
  `States.TaskFailed` (for `retry` and `errors`) and a message naming its stop reason and exit code.
"""


def _annotation_text(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _annotation_text(get_args(annotation)[0])
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        parts = [_annotation_text(a) for a in get_args(annotation) if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin is list:
        args = get_args(annotation)
        return f"list of {_annotation_text(args[0])}" if args else "list"
    if origin is dict or annotation is dict:
        return "map"
    if isinstance(annotation, type):
        if issubclass(annotation, Task):
            return "task"
        if issubclass(annotation, BaseModel):
            names = [_property_name(n, f) for n, f in annotation.model_fields.items()]
            return "object (" + ", ".join(f"`{name}`" for name in names) + ")"
        simple = {str: "string", bool: "boolean", int: "integer", float: "number", timedelta: "duration"}
        if annotation in simple:
            return simple[annotation]
    return "any"


def _property_name(name: str, field: FieldInfo) -> str:
    return field.alias or name


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is None or value is PydanticUndefined:
        return ""
    if isinstance(value, timedelta):
        return f"`{format_iso_duration(value)}`"
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_none=True)
        if not any(value.values()):
            return ""
    return f"`{json.dumps(value, default=str)}`"


def _description(cls: type[Task]) -> str:
    text = (cls.__doc__ or "").strip()
    return re.sub(r"\s+", " ", text.split("\n\n", 1)[0])


def _outputs(cls: type[Task]) -> dict[str, str]:
    declared: dict[str, str] | None = getattr(cls, "output_fields", None)
    return declared if declared is not None else KNOWN_OUTPUTS.get(cls.type_name, {})


def task_section(cls: type[Task]) -> str:
    """The markdown of one task type."""
    lines = [f"## `{cls.type_name}`", "", _description(cls), ""]
    if cls.aliases:
        lines += ["Aliases: " + ", ".join(f"`{alias}`" for alias in cls.aliases), ""]
    own = [(n, f) for n, f in cls.model_fields.items() if n not in Task.model_fields]
    if own:
        lines += ["| property | type | default |", "| --- | --- | --- |"]
        for name, field in own:
            lines.append(
                f"| `{_property_name(name, field)}` | {_annotation_text(field.annotation)} | {_default_text(field)} |"
            )
        lines.append("")
    outputs = _outputs(cls)
    if outputs:
        lines += ["| output | description |", "| --- | --- |"]
        lines += [f"| `{name}` | {text} |" for name, text in outputs.items()]
        lines.append("")
    return "\n".join(lines)


def markdown() -> str:
    """The whole reference: an index of the task types, then one section per type."""
    classes = registry.task_classes()
    index = ["| type | description |", "| --- | --- |"]
    index += [f"| [`{c.type_name}`](#{_anchor(c.type_name)}) | {_description(c)} |" for c in classes]
    return "\n".join([PREAMBLE, *index, "", *(task_section(c) for c in classes)]).rstrip("\n") + "\n"


README_START = "<!-- task-reference:start (generated: python -m stratoflow.tasks.reference --readme) -->"
README_END = "<!-- task-reference:end -->"


def summary_table() -> str:
    """One row per task type: its own properties and its outputs (the README's reference table)."""
    rows = ["| type | properties | outputs |", "| --- | --- | --- |"]
    for cls in registry.task_classes():
        own = [_property_name(n, f) for n, f in cls.model_fields.items() if n not in Task.model_fields]
        required = {_property_name(n, f) for n, f in cls.model_fields.items() if f.is_required()}
        props = ", ".join(f"`{p}`" + ("*" if p in required else "") for p in own) or "—"
        outputs = ", ".join(f"`{o}`" for o in _outputs(cls)) or "—"
        link = f"[`{cls.type_name}`](docs/tasks.md#{_anchor(cls.type_name)})"
        rows.append(f"| {link} | {props} | {outputs} |")
    return "\n".join(rows) + "\n"


def with_readme_table(readme: str) -> str:
    """The README with its generated task table replaced by the registry's current one."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return readme[:start] + "\n" + summary_table() + readme[end:]


def _anchor(name: str) -> str:
    """GitHub's heading anchor of "`name`": lower case, dots dropped."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


def main() -> None:
    import sys
    from pathlib import Path

    if sys.argv[1:] == ["--readme"]:
        readme = Path("README.md")
        readme.write_text(with_readme_table(readme.read_text()))
        return
    print(markdown(), end="")


if __name__ == "__main__":
    main()
