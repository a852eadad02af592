"""The Kestra compatibility page, generated: `python -m stratoflow.tasks.compatibility >
docs/kestra-compatibility.md` (a test fails when the checked-in page differs).

Supported and partly supported types come from the registry: every task class with a Kestra name is
listed, and a class that lacks part of Kestra's behaviour says so in its `kestra_gaps` class
attribute. The types that are not supported are listed below, each with the reason; a test fails when
one of them becomes registered, so the page cannot claim a gap that is filled.
"""

from __future__ import annotations

from stratoflow.flow import registry

KESTRA_PREFIX = "io.kestra."

# Kestra types that flows use and Stratoflow does not run, most used first (by Kestra's blueprints).
NOT_SUPPORTED: dict[str, str] = {
    "io.kestra.plugin.dbt.cli.DbtCLI": "needs dbt and its adapters: run dbt in `aws.ecs.RunTask`",
    "io.kestra.plugin.terraform.cli.TerraformCLI": "needs the terraform binary: run it in `aws.ecs.RunTask`",
    "io.kestra.plugin.ansible.cli.AnsibleCLI": "needs Ansible: run it in `aws.ecs.RunTask`",
    "io.kestra.plugin.serdes.excel.IonToExcel": "no Excel library in the task runner",
    "io.kestra.plugin.serdes.excel.ExcelToIon": "no Excel library in the task runner",
    "io.kestra.plugin.serdes.xml.IonToXml": "not yet",
    "io.kestra.plugin.serdes.xml.XmlToIon": "not yet",
    "io.kestra.plugin.core.storage.LocalFiles": "deprecated by Kestra: use `inputFiles` of a `WorkingDirectory`",
    "io.kestra.plugin.core.storage.DeduplicateItems": "not yet",
    "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles": "not yet",
    "io.kestra.plugin.core.storage.Reverse": "not yet",
    "io.kestra.plugin.git.Push": "not yet",
    "io.kestra.plugin.git.SyncFlows": "flows are deployed from S3, not from Git",
    "io.kestra.plugin.git.SyncNamespaceFiles": "use `strato files put`",
    "io.kestra.plugin.jdbc.mysql.Query": "not yet",
    "io.kestra.plugin.jdbc.snowflake.Query": "not yet",
    "io.kestra.plugin.scripts.node.Script": "only Python and shell scripts run in the task runner",
    "io.kestra.plugin.scripts.r.Script": "only Python and shell scripts run in the task runner",
    "io.kestra.plugin.docker.Run": "no Docker in Lambda: use `aws.ecs.RunTask`",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The whole page."""
    lines = [
        "# Kestra compatibility",
        "",
        "Generated from the task registry by `python -m stratoflow.tasks.compatibility >"
        " docs/kestra-compatibility.md`; a test fails when this page is out of date. Every Kestra name"
        " in the first table is accepted as `type:` as it is; [tasks.md](tasks.md) has the properties"
        " and outputs of each. A property Stratoflow does not implement is refused with its location,"
        " never ignored. This page lists task types; triggers are in the README's Triggers section.",
        "",
        "## Supported",
        "",
        "| Kestra type | Stratoflow type | status | not supported |",
        "| --- | --- | --- | --- |",
    ]
    rows = []
    for cls in registry.task_classes():
        kestra = [name for name in cls.aliases if name.startswith(KESTRA_PREFIX)]
        if not kestra:
            continue
        gaps: str | None = getattr(cls, "kestra_gaps", None)
        status = "partly" if gaps else "supported"
        rows.append(
            f"| {'<br>'.join(f'`{name}`' for name in kestra)} | `{cls.type_name}` | {status} | {_cell(gaps or '')} |"
        )
    lines += rows
    lines += [
        "",
        "Stratoflow's own types with no Kestra counterpart: "
        + ", ".join(
            f"`{cls.type_name}`"
            for cls in registry.task_classes()
            if not any(name.startswith(KESTRA_PREFIX) for name in cls.aliases)
        )
        + ".",
        "",
        "## Not supported",
        "",
        "| Kestra type | why, and what to use instead |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {_cell(reason)} |" for name, reason in sorted(NOT_SUPPORTED.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    print(markdown(), end="")


if __name__ == "__main__":
    main()
