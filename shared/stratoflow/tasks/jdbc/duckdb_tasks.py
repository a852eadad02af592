"""`jdbc.duckdb.Query` and `Queries`: SQL on an embedded DuckDB, in a working directory that holds
the task's `inputFiles` (`{{ workingDir }}/data.csv` in the SQL) and from which `outputFiles` are
stored. DuckDB is in the task runner's layer (~65 MB of Lambda's 250 MB) and imported only when a
DuckDB task runs."""

from __future__ import annotations

import shutil
import tempfile
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import file_or_content, relative_path
from stratoflow.tasks.jdbc.results import FetchType, fetch_result

KESTRA_DUCKDB = "io.kestra.plugin.jdbc.duckdb"
IN_MEMORY = ("", ":memory:")


class DuckDbTask(RunnableTask):
    """What both DuckDB tasks share: the database, input and output files, and `fetchType`."""

    kestra_gaps: ClassVar[str] = "`databaseUri`; a database file in `url` lives in the working directory"

    output_fields: ClassVar[dict[str, str]] = {
        "row": "FETCH_ONE: the first row (column: value)",
        "rows": "FETCH: every row",
        "uri": "STORE: storage URI of an Ion file of the rows",
        "size": "rows fetched or stored",
        "outputFiles": "{name: storage URI} of the `outputFiles`",
    }

    sql: str
    url: str = "jdbc:duckdb:"
    fetch_type: FetchType = "NONE"
    input_files: dict[str, str] = Field(default_factory=dict)
    output_files: list[str] = Field(default_factory=list)

    def database(self, ctx: RunContext, workdir: Path) -> str:
        url = as_text(ctx.render(self.url))
        if not url.startswith("jdbc:duckdb:"):
            raise TaskFailed(f"'url' must start with jdbc:duckdb:, got '{url}'")
        path = url.removeprefix("jdbc:duckdb:")
        if path in IN_MEMORY:
            return ":memory:"
        # A database file lives in the working directory: the task runner has no other disk to keep.
        return str(workdir.joinpath(*relative_path(path).parts))

    def statements(self, ctx: RunContext, workdir: Path) -> str:
        outputs = {name: str(workdir / name) for name in self.output_files}
        return as_text(ctx.render(self.sql, {"workingDir": str(workdir), "outputFiles": outputs}))

    @abstractmethod
    def execute(self, ctx: RunContext, connection: Any, sql: str) -> dict[str, Any]:
        """Run the rendered `sql`; the outputs of its result."""

    def run(self, ctx: RunContext) -> dict[str, Any]:
        import duckdb  # deferred: the engine is large and only DuckDB tasks need it

        root = Path(tempfile.mkdtemp(prefix="stratoflow-duckdb-"))
        workdir = ctx.working_dir or root
        try:
            for name, value in self.input_files.items():
                target = workdir.joinpath(*relative_path(name).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file_or_content(ctx, ctx.render(value)))
            for name in self.output_files:
                relative_path(name)
            sql = self.statements(ctx, workdir)
            try:
                with duckdb.connect(self.database(ctx, workdir)) as connection:
                    # An abandoned attempt (runner.abandon) interrupts the running query.
                    ctx.on_stop(connection.interrupt)
                    ctx.check_stopped()
                    result = self.execute(ctx, connection, sql)
            except duckdb.Error as error:
                raise TaskFailed(f"DuckDB: {error}") from None
            stored = {}
            for name in self.output_files:
                path = workdir / name
                if not path.is_file():
                    raise TaskFailed(f"output file '{name}' was not written by the query")
                stored[name] = ctx.put_file(name, path.read_bytes())
            return {**result, **({"outputFiles": stored} if stored else {})}
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _result_set(ctx: RunContext, cursor: Any, fetch_type: FetchType, name: str) -> dict[str, Any]:
    if cursor.description is None:
        return fetch_result(ctx, fetch_type, [], [], name) if fetch_type != "NONE" else {}
    columns = [column[0] for column in cursor.description]
    rows = iter(cursor.fetchone, None) if fetch_type == "FETCH_ONE" else cursor.fetchall()
    return fetch_result(ctx, fetch_type, columns, rows, name)


@register
class DuckDbQuery(DuckDbTask):
    """Run `sql` (one or more statements) on DuckDB; the last statement's rows are the result."""

    type_name: ClassVar[str] = "jdbc.duckdb.Query"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_DUCKDB}.Query",)

    def execute(self, ctx: RunContext, connection: Any, sql: str) -> dict[str, Any]:
        cursor = connection.execute(sql)
        return _result_set(ctx, cursor, self.fetch_type, self.id)


@register
class DuckDbQueries(DuckDbTask):
    """Run each statement of `sql` on DuckDB; `outputs` has one result per statement that returns
    rows."""

    type_name: ClassVar[str] = "jdbc.duckdb.Queries"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_DUCKDB}.Queries",)
    output_fields: ClassVar[dict[str, str]] = {
        "outputs": "one {row | rows | uri, size} per statement that returns rows",
        "outputFiles": "{name: storage URI} of the `outputFiles`",
    }

    def execute(self, ctx: RunContext, connection: Any, sql: str) -> dict[str, Any]:
        import duckdb

        outputs = []
        # DuckDB's own parser splits the script, and tells the statements that return rows from those
        # that change rows (CREATE ... AS, INSERT, COPY answer a row count: not a result).
        for index, statement in enumerate(connection.extract_statements(sql)):
            cursor = connection.execute(statement.query)
            changes = duckdb.ExpectedResultType.CHANGED_ROWS in statement.expected_result_type
            if cursor.description is not None and not changes and self.fetch_type != "NONE":
                outputs.append(_result_set(ctx, cursor, self.fetch_type, f"{self.id}-{index}"))
        return {"outputs": outputs}
