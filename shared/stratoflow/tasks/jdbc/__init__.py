"""JDBC-style SQL task types with Kestra's names: DuckDB (embedded) and PostgreSQL (pg8000, pure
Python), registered on import. Each query's result is handled by `fetchType` (see `results`)."""

from stratoflow.tasks.jdbc import duckdb_tasks, postgresql

__all__ = ["duckdb_tasks", "postgresql"]
