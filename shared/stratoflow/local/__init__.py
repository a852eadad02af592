"""Stratoflow on a laptop: the local engine, SQLite history and a local storage folder."""

from stratoflow.local.platform import LocalPlatform, RunOutcome

__all__ = ["LocalPlatform", "RunOutcome"]
