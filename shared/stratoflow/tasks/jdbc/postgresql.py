"""`jdbc.postgresql.Query`, `Queries` and `CopyIn` with pg8000, a pure-Python driver: no libpq to
ship in the Lambda layer, and it speaks SCRAM authentication and TLS itself.

An abandoned attempt (runner.abandon) cancels the running statement with PostgreSQL's cancel request,
which pg8000 does not offer: the server ends the statement and the task's connection then closes."""

from __future__ import annotations

import io
import socket
import ssl
import struct
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

from pydantic import Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import read_stored
from stratoflow.tasks.jdbc.results import FetchType, fetch_result, split_statements
from stratoflow.tasks.storage import stored_uri

KESTRA_POSTGRES = "io.kestra.plugin.jdbc.postgresql"
RESULT_OUTPUTS = {
    "row": "FETCH_ONE: the first row (column: value)",
    "rows": "FETCH: every row",
    "uri": "STORE: storage URI of an Ion file of the rows",
    "size": "rows fetched or stored",
}


def connection_options(url: str, username: str | None, password: str | None) -> dict[str, Any]:
    """pg8000's arguments from a JDBC URL (`jdbc:postgresql://host:port/db?sslmode=require`)."""
    if not url.startswith("jdbc:postgresql://"):
        raise TaskFailed(f"'url' must start with jdbc:postgresql://, got '{url}'")
    parts = urllib.parse.urlsplit(url.removeprefix("jdbc:"))
    query = dict(urllib.parse.parse_qsl(parts.query))
    options: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "database": parts.path.lstrip("/") or None,
        "user": username or query.get("user") or "postgres",
        "password": password if password is not None else query.get("password"),
        "timeout": 30,
    }
    mode = query.get("sslmode", "disable")
    if mode in ("require", "verify-ca", "verify-full"):
        context = ssl.create_default_context()
        if mode == "require":  # encrypted, not authenticated: libpq's meaning of `require`
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        options["ssl_context"] = context
    elif mode not in ("disable", "allow", "prefer"):
        raise TaskFailed(f"sslmode '{mode}' is not one of disable, require, verify-ca, verify-full")
    return options


class PostgresTask(RunnableTask):
    kestra_gaps: ClassVar[str] = (
        "`parameters`, `fetchSize`, `timeZoneId`, the `ssl*` properties (give `sslmode` in the `url`)"
    )
    url: str
    username: str | None = None
    password: str | None = None

    @contextmanager
    def connection(self, ctx: RunContext) -> Iterator[Any]:
        import pg8000.native  # deferred: only PostgreSQL tasks pay for the driver's imports

        def text(value: str | None) -> str | None:
            return as_text(ctx.render(value)) if value is not None else None

        options = connection_options(as_text(ctx.render(self.url)), text(self.username), text(self.password))
        try:
            connection = pg8000.native.Connection(**options)
        except (pg8000.native.InterfaceError, pg8000.native.DatabaseError, OSError) as error:
            raise TaskFailed(
                f"cannot connect to {options['host']}:{options['port']}: {_reason(error)}"
            ) from None
        ctx.on_stop(lambda: cancel_request(options["host"], options["port"], connection))
        try:
            yield connection
        except pg8000.native.DatabaseError as error:
            raise TaskFailed(f"PostgreSQL: {_reason(error)}") from None
        finally:
            connection.close()


CANCEL_REQUEST_CODE = 80877102
"""The protocol's CancelRequest code (1234 << 16 | 5678), sent in place of a startup message."""


def cancel_request(host: str, port: int, connection: Any) -> None:
    """Ask the server to cancel the statement `connection` runs: a new connection sends the backend's
    process id and secret key, as libpq's PQcancel does (plain: the server reads it before any TLS)."""
    key: bytes | None = getattr(connection, "_backend_key_data", None)
    if key is None:  # the server gave no key: nothing can be cancelled
        return
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(struct.pack("!ii", 16, CANCEL_REQUEST_CODE) + key)


def _reason(error: BaseException) -> str:
    """pg8000 puts the server's fields in a dict: the message (`M`) is what a user needs."""
    details = error.args[0] if error.args else error
    if isinstance(details, dict):
        return f"{details.get('M', details)} ({details.get('C', '?')})"
    return str(details)


def _result(
    ctx: RunContext, connection: Any, rows: list[Any], fetch_type: FetchType, name: str
) -> dict[str, Any]:
    columns = [column["name"] for column in connection.columns or []]
    return fetch_result(ctx, fetch_type, columns, rows or [], name)


@register
class PostgresQuery(PostgresTask):
    """Run one SQL statement on PostgreSQL; its rows by `fetchType`."""

    type_name: ClassVar[str] = "jdbc.postgresql.Query"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_POSTGRES}.Query",)
    output_fields: ClassVar[dict[str, str]] = RESULT_OUTPUTS

    sql: str
    fetch_type: FetchType = "NONE"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        sql = as_text(ctx.render(self.sql))
        if len(split_statements(sql)) > 1:
            raise TaskFailed("'sql' holds several statements: use jdbc.postgresql.Queries for a script")
        with self.connection(ctx) as connection:
            rows = connection.run(sql)
            return _result(ctx, connection, rows, self.fetch_type, self.id)


@register
class PostgresQueries(PostgresTask):
    """Run each statement of `sql` on PostgreSQL, in one transaction unless `transaction: false`;
    `outputs` has one result per statement that returns rows."""

    type_name: ClassVar[str] = "jdbc.postgresql.Queries"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_POSTGRES}.Queries",)
    output_fields: ClassVar[dict[str, str]] = {
        "outputs": "one {row | rows | uri, size} per statement that returns rows"
    }

    sql: str
    fetch_type: FetchType = "NONE"
    transaction: bool = True

    def run(self, ctx: RunContext) -> dict[str, Any]:
        statements = split_statements(as_text(ctx.render(self.sql)))
        outputs = []
        with self.connection(ctx) as connection:
            if self.transaction:
                connection.run("BEGIN")
            try:
                for index, statement in enumerate(statements):
                    rows = connection.run(statement)
                    if connection.columns and self.fetch_type != "NONE":
                        outputs.append(_result(ctx, connection, rows, self.fetch_type, f"{self.id}-{index}"))
            except BaseException:
                if self.transaction:
                    connection.run("ROLLBACK")
                raise
            if self.transaction:
                connection.run("COMMIT")
        return {"outputs": outputs}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    """A table or column name: each dotted part quoted, so no name can inject SQL."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


@register
class CopyIn(PostgresTask):
    """Load a stored file into `table` with COPY ... FROM STDIN; outputs `rowCount`."""

    type_name: ClassVar[str] = "jdbc.postgresql.CopyIn"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_POSTGRES}.CopyIn",)
    output_fields: ClassVar[dict[str, str]] = {"rowCount": "rows copied"}

    table: str
    from_: str = Field(alias="from")
    format: Literal["TEXT", "CSV", "BINARY"] = "TEXT"
    header: bool = False
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    quote: str | None = Field(default=None, min_length=1, max_length=1)
    escape: str | None = Field(default=None, min_length=1, max_length=1)
    null: str | None = None
    columns: list[str] = Field(default_factory=list)
    encoding: str | None = None

    def statement(self, table: str) -> str:
        options = [f"FORMAT {self.format.lower()}"]
        if self.header:
            options.append("HEADER true")
        for name, value in (
            ("DELIMITER", self.delimiter),
            ("QUOTE", self.quote),
            ("ESCAPE", self.escape),
            ("NULL", self.null),
            ("ENCODING", self.encoding),
        ):
            if value is not None:
                options.append(f"{name} {_literal(value)}")
        columns = f" ({', '.join(_identifier(c) for c in self.columns)})" if self.columns else ""
        return f"COPY {_identifier(table)}{columns} FROM STDIN WITH ({', '.join(options)})"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        data = read_stored(ctx, stored_uri(ctx, self.from_, "from"))
        table = as_text(ctx.render(self.table))
        with self.connection(ctx) as connection:
            connection.run(self.statement(table), stream=io.BytesIO(data))
            return {"rowCount": connection.row_count}
