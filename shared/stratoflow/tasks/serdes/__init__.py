"""Conversions between CSV, JSON, JSON Lines and Ion (Kestra's internal format): `serdes.*`,
registered on import. Parquet and Avro are not supported (see docs/kestra-compatibility.md)."""

from stratoflow.tasks.serdes import conversions

__all__ = ["conversions"]
