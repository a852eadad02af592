"""Conversions between CSV, JSON, JSON Lines, Parquet, Avro and Ion (Kestra's internal format):
`serdes.*`, registered on import. Excel and XML are not supported (see
docs/kestra-compatibility.md)."""

from stratoflow.tasks.serdes import avro, conversions, parquet

__all__ = ["avro", "conversions", "parquet"]
