"""Conversions between CSV, JSON, JSON Lines, Parquet and Ion (Kestra's internal format):
`serdes.*`, registered on import. Avro, Excel and XML are not supported (see
docs/kestra-compatibility.md)."""

from stratoflow.tasks.serdes import conversions, parquet

__all__ = ["conversions", "parquet"]
